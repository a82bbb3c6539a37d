using System.Buffers.Binary;
using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Packets;

/// <summary>
/// Reads and writes the IPv6 fixed header (RFC 8200 §3) in place. Every method takes the packet starting at
/// the IP header; readers assume the caller checked the length (see <see cref="PacketClassifier"/>).
/// </summary>
public static class IPv6Header
{
    /// <summary>The length of the fixed header, in bytes.</summary>
    public const int Length = 40;

    /// <summary>The default hop limit for packets the gateway originates.</summary>
    public const byte DefaultHopLimit = 64;

    /// <summary>The payload length field (extension headers plus upper-layer data), in bytes.</summary>
    public static int PayloadLength(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);

    /// <summary>The next header field of the fixed header.</summary>
    public static byte NextHeader(ReadOnlySpan<byte> packet) => packet[6];

    /// <summary>The hop limit.</summary>
    public static byte HopLimit(ReadOnlySpan<byte> packet) => packet[7];

    /// <summary>The 16 bytes of the source address.</summary>
    public static ReadOnlySpan<byte> SourceBytes(ReadOnlySpan<byte> packet) => packet.Slice(8, 16);

    /// <summary>The 16 bytes of the destination address.</summary>
    public static ReadOnlySpan<byte> DestinationBytes(ReadOnlySpan<byte> packet) => packet.Slice(24, 16);

    /// <summary>The source address.</summary>
    public static NetAddress Source(ReadOnlySpan<byte> packet) => NetAddress.ReadV6(packet[8..]);

    /// <summary>The destination address.</summary>
    public static NetAddress Destination(ReadOnlySpan<byte> packet) => NetAddress.ReadV6(packet[24..]);

    /// <summary>The destination address as a big-endian 128-bit number.</summary>
    public static UInt128 DestinationValue(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt128BigEndian(packet[24..]);

    /// <summary>Writes a fixed header (traffic class and flow label zero) for <paramref name="payloadLength"/> bytes that follow it.</summary>
    public static void Write(Span<byte> packet, NetAddress source, NetAddress destination, byte nextHeader, int payloadLength, byte hopLimit = DefaultHopLimit)
    {
        BinaryPrimitives.WriteUInt32BigEndian(packet, 0x60000000);
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)payloadLength);
        packet[6] = nextHeader;
        packet[7] = hopLimit;
        source.WriteTo(packet[8..]);
        destination.WriteTo(packet[24..]);
    }
}
