using System.Buffers.Binary;

namespace Gateway.Sdk.Packets;

/// <summary>Reads and writes UDP headers (RFC 768) in place; spans start at the UDP header.</summary>
public static class UdpHeader
{
    /// <summary>The header length, in bytes.</summary>
    public const int Length = 8;

    /// <summary>The source port.</summary>
    public static ushort SourcePort(ReadOnlySpan<byte> udp) => BinaryPrimitives.ReadUInt16BigEndian(udp);

    /// <summary>The destination port.</summary>
    public static ushort DestinationPort(ReadOnlySpan<byte> udp) => BinaryPrimitives.ReadUInt16BigEndian(udp[2..]);

    /// <summary>The length field: header plus payload, in bytes.</summary>
    public static int DatagramLength(ReadOnlySpan<byte> udp) => BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);

    /// <summary>The checksum field (0 = none, allowed over IPv4 only).</summary>
    public static ushort Checksum(ReadOnlySpan<byte> udp) => BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);

    /// <summary>Writes the header for a payload of <paramref name="payloadLength"/> bytes; the checksum is left zero.</summary>
    public static void Write(Span<byte> udp, ushort sourcePort, ushort destinationPort, int payloadLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(Length + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
    }

    /// <summary>
    /// Computes and stores the checksum over <paramref name="udp"/> (header and payload) given the
    /// pseudo-header sum (<see cref="InternetChecksum.PseudoHeaderV4(uint, uint, byte, int)"/> or
    /// <see cref="InternetChecksum.PseudoHeaderV6"/>). A computed zero is sent as 0xFFFF (RFC 768).
    /// </summary>
    public static void UpdateChecksum(Span<byte> udp, ulong pseudoHeaderSum)
    {
        udp[6] = 0;
        udp[7] = 0;
        ushort checksum = InternetChecksum.Finish(InternetChecksum.Add(pseudoHeaderSum, udp));
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    /// <summary>
    /// True when the checksum is correct, or absent (zero) and <paramref name="zeroAllowed"/> (IPv4, RFC 768;
    /// IPv6 requires it, RFC 8200 §8.1).
    /// </summary>
    public static bool IsChecksumValid(ReadOnlySpan<byte> udp, ulong pseudoHeaderSum, bool zeroAllowed) =>
        Checksum(udp) == 0 ? zeroAllowed : InternetChecksum.Fold(InternetChecksum.Add(pseudoHeaderSum, udp)) == 0xFFFF;
}
