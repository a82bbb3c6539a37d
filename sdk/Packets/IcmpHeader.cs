using System.Buffers.Binary;

namespace Gateway.Sdk.Packets;

/// <summary>ICMP for IPv4 (RFC 792) and IPv6 (RFC 4443) message headers; spans start at the ICMP header.</summary>
/// <remarks>The first 8 bytes share one layout in both versions: type, code, checksum, then 4 message-specific bytes.</remarks>
public static class IcmpHeader
{
    /// <summary>The header length (type, code, checksum, rest of header), in bytes.</summary>
    public const int Length = 8;

    /// <summary>ICMPv4 echo reply (RFC 792).</summary>
    public const byte V4EchoReply = 0;

    /// <summary>ICMPv4 destination unreachable (RFC 792).</summary>
    public const byte V4DestinationUnreachable = 3;

    /// <summary>ICMPv4 echo request (RFC 792).</summary>
    public const byte V4EchoRequest = 8;

    /// <summary>ICMPv4 destination-unreachable code "port unreachable".</summary>
    public const byte V4PortUnreachableCode = 3;

    /// <summary>ICMPv6 destination unreachable (RFC 4443 §3.1).</summary>
    public const byte V6DestinationUnreachable = 1;

    /// <summary>ICMPv6 echo request (RFC 4443 §4.1).</summary>
    public const byte V6EchoRequest = 128;

    /// <summary>ICMPv6 echo reply (RFC 4443 §4.2).</summary>
    public const byte V6EchoReply = 129;

    /// <summary>ICMPv6 destination-unreachable code "port unreachable".</summary>
    public const byte V6PortUnreachableCode = 4;

    /// <summary>The message type.</summary>
    public static byte Type(ReadOnlySpan<byte> icmp) => icmp[0];

    /// <summary>The message code.</summary>
    public static byte Code(ReadOnlySpan<byte> icmp) => icmp[1];

    /// <summary>The checksum field.</summary>
    public static ushort Checksum(ReadOnlySpan<byte> icmp) => BinaryPrimitives.ReadUInt16BigEndian(icmp[2..]);

    /// <summary>
    /// Computes and stores the checksum over the whole message: for ICMPv4 pass a pseudo-header sum of 0
    /// (RFC 792); ICMPv6 covers the IPv6 pseudo-header (RFC 4443 §2.3).
    /// </summary>
    public static void UpdateChecksum(Span<byte> icmp, ulong pseudoHeaderSum = 0)
    {
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Finish(InternetChecksum.Add(pseudoHeaderSum, icmp)));
    }

    /// <summary>True when the checksum over the whole message is correct (pseudo-header sum 0 for ICMPv4).</summary>
    public static bool IsChecksumValid(ReadOnlySpan<byte> icmp, ulong pseudoHeaderSum = 0) =>
        InternetChecksum.Fold(InternetChecksum.Add(pseudoHeaderSum, icmp)) == 0xFFFF;
}
