using System.Buffers.Binary;

namespace Gateway.Sdk.Packets;

/// <summary>Reads and writes TCP headers (RFC 9293 §3.1) in place; spans start at the TCP header.</summary>
public static class TcpHeader
{
    /// <summary>The length of a header without options, in bytes.</summary>
    public const int MinLength = 20;

    /// <summary>The source port.</summary>
    public static ushort SourcePort(ReadOnlySpan<byte> tcp) => BinaryPrimitives.ReadUInt16BigEndian(tcp);

    /// <summary>The destination port.</summary>
    public static ushort DestinationPort(ReadOnlySpan<byte> tcp) => BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]);

    /// <summary>The sequence number.</summary>
    public static uint SequenceNumber(ReadOnlySpan<byte> tcp) => BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);

    /// <summary>The acknowledgment number.</summary>
    public static uint AcknowledgmentNumber(ReadOnlySpan<byte> tcp) => BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]);

    /// <summary>The header length (data offset × 4), in bytes.</summary>
    public static int HeaderLength(ReadOnlySpan<byte> tcp) => (tcp[12] >> 4) * 4;

    /// <summary>The control bits.</summary>
    public static TcpFlags Flags(ReadOnlySpan<byte> tcp) => (TcpFlags)tcp[13];

    /// <summary>The window field.</summary>
    public static ushort Window(ReadOnlySpan<byte> tcp) => BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]);

    /// <summary>The checksum field.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> tcp) => BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]);

    /// <summary>Sets the source port and updates the checksum incrementally (RFC 1624).</summary>
    public static void SetSourcePort(Span<byte> tcp, ushort port) => SetPort(tcp, 0, port);

    /// <summary>Sets the destination port and updates the checksum incrementally (RFC 1624).</summary>
    public static void SetDestinationPort(Span<byte> tcp, ushort port) => SetPort(tcp, 2, port);

    /// <summary>Writes a 20-byte header (no options, urgent pointer zero); the checksum is left zero.</summary>
    public static void Write(Span<byte> tcp, ushort sourcePort, ushort destinationPort, uint sequence, uint acknowledgment, TcpFlags flags, ushort window)
    {
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], acknowledgment);
        tcp[12] = (MinLength / 4) << 4;
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[16..], 0);
    }

    /// <summary>Computes and stores the checksum over <paramref name="tcp"/> (header and payload) given the pseudo-header sum.</summary>
    public static void UpdateChecksum(Span<byte> tcp, ulong pseudoHeaderSum)
    {
        tcp[16] = 0;
        tcp[17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Finish(InternetChecksum.Add(pseudoHeaderSum, tcp)));
    }

    /// <summary>True when the checksum over <paramref name="tcp"/> (header and payload) is correct.</summary>
    public static bool IsChecksumValid(ReadOnlySpan<byte> tcp, ulong pseudoHeaderSum) =>
        InternetChecksum.Fold(InternetChecksum.Add(pseudoHeaderSum, tcp)) == 0xFFFF;

    /// <summary>Adjusts the checksum for a change of a 32-bit field the pseudo-header covers (an IPv4 address), RFC 1624.</summary>
    public static void AdjustChecksum(Span<byte> tcp, uint oldValue, uint newValue) =>
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Update(Checksum(tcp), oldValue, newValue));

    /// <summary>Adjusts the checksum for a change of bytes the pseudo-header covers (an IPv6 address), RFC 1624.</summary>
    public static void AdjustChecksum(Span<byte> tcp, ReadOnlySpan<byte> oldBytes, ReadOnlySpan<byte> newBytes) =>
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Update(Checksum(tcp), oldBytes, newBytes));

    private static void SetPort(Span<byte> tcp, int offset, ushort port)
    {
        ushort old = BinaryPrimitives.ReadUInt16BigEndian(tcp[offset..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[offset..], port);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum.Update(Checksum(tcp), old, port));
    }
}
