using System.Buffers.Binary;

namespace Gateway.Sdk.Packets;

/// <summary>
/// Reads and writes IPv4 headers (RFC 791 §3.1) in place. Every method takes the packet starting at the
/// IP header; readers assume the caller checked the length (see <see cref="PacketClassifier"/>).
/// </summary>
public static class IPv4Header
{
    /// <summary>The length of a header without options, in bytes.</summary>
    public const int MinLength = 20;

    /// <summary>The default time to live for packets the gateway originates (RFC 1700 recommends 64).</summary>
    public const byte DefaultTtl = 64;

    /// <summary>The "more fragments" flag in the flags/fragment-offset word.</summary>
    public const ushort MoreFragmentsFlag = 0x2000;

    /// <summary>The "don't fragment" flag in the flags/fragment-offset word.</summary>
    public const ushort DontFragmentFlag = 0x4000;

    /// <summary>The header length in bytes (IHL × 4).</summary>
    public static int HeaderLength(ReadOnlySpan<byte> packet) => (packet[0] & 0x0F) * 4;

    /// <summary>The total length field: header plus payload, in bytes.</summary>
    public static int TotalLength(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);

    /// <summary>The identification field.</summary>
    public static ushort Identification(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);

    /// <summary>True when the packet is a fragment (more-fragments set or a non-zero offset).</summary>
    public static bool IsFragment(ReadOnlySpan<byte> packet) => (BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3FFF) != 0;

    /// <summary>The time to live.</summary>
    public static byte Ttl(ReadOnlySpan<byte> packet) => packet[8];

    /// <summary>The protocol of the payload (<see cref="IpProtocol"/>).</summary>
    public static byte Protocol(ReadOnlySpan<byte> packet) => packet[9];

    /// <summary>The header checksum field.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);

    /// <summary>The source address as a big-endian number.</summary>
    public static uint Source(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[12..]);

    /// <summary>The destination address as a big-endian number.</summary>
    public static uint Destination(ReadOnlySpan<byte> packet) => BinaryPrimitives.ReadUInt32BigEndian(packet[16..]);

    /// <summary>Sets the source address and updates the header checksum incrementally (RFC 1624).</summary>
    public static void SetSource(Span<byte> packet, uint address) => SetAddress(packet, 12, address);

    /// <summary>Sets the destination address and updates the header checksum incrementally (RFC 1624).</summary>
    public static void SetDestination(Span<byte> packet, uint address) => SetAddress(packet, 16, address);

    /// <summary>True when the header checksum is correct (RFC 791: the header, options included, sums to 0xFFFF).</summary>
    public static bool IsChecksumValid(ReadOnlySpan<byte> packet) => InternetChecksum.IsValid(packet[..HeaderLength(packet)]);

    /// <summary>Computes and stores the header checksum.</summary>
    public static void UpdateChecksum(Span<byte> packet)
    {
        packet[10] = 0;
        packet[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], InternetChecksum.Compute(packet[..HeaderLength(packet)]));
    }

    /// <summary>
    /// Writes a 20-byte header without options (don't-fragment set) with a correct checksum, for a payload of
    /// <paramref name="payloadLength"/> bytes that follows it.
    /// </summary>
    public static void Write(Span<byte> packet, uint source, uint destination, byte protocol, int payloadLength, byte ttl = DefaultTtl, ushort identification = 0)
    {
        packet[0] = 0x45;
        packet[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)(MinLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(packet[6..], DontFragmentFlag);
        packet[8] = ttl;
        packet[9] = protocol;
        packet[10] = 0;
        packet[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(packet[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(packet[16..], destination);
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], InternetChecksum.Compute(packet[..MinLength]));
    }

    private static void SetAddress(Span<byte> packet, int offset, uint address)
    {
        uint old = BinaryPrimitives.ReadUInt32BigEndian(packet[offset..]);
        BinaryPrimitives.WriteUInt32BigEndian(packet[offset..], address);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(packet[10..]);
        BinaryPrimitives.WriteUInt16BigEndian(packet[10..], InternetChecksum.Update(checksum, old, address));
    }
}
