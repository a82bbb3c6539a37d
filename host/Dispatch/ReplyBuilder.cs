using System.Buffers.Binary;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Dispatch;

/// <summary>Builds the packets the dispatcher answers with itself: echo replies, port unreachable, RST, UDP replies.</summary>
internal static class ReplyBuilder
{
    /// <summary>RFC 1812 §4.3.2.3: an ICMPv4 error carries as much of the original as fits in 576 bytes.</summary>
    public const int MaxIcmpV4Error = 576;

    /// <summary>RFC 4443 §2.4(c): an ICMPv6 error carries as much as fits in the minimum MTU (1280).</summary>
    public const int MaxIcmpV6Error = 1280;

    /// <summary>The reply header length for a UDP datagram of the given family.</summary>
    public static int UdpOverhead(bool v6) => (v6 ? IPv6Header.Length : IPv4Header.MinLength) + UdpHeader.Length;

    /// <summary>
    /// Turns an ICMP/ICMPv6 echo request into its reply in place (addresses swapped, type changed, checksum
    /// recomputed, RFC 792 / RFC 4443 §4.2). Returns the reply length, or 0 when it is not an echo request.
    /// </summary>
    public static int EchoReplyInPlace(Span<byte> packet, in PacketInfo info)
    {
        Span<byte> icmp = packet[info.TransportOffset..info.Length];
        if (info.Version == 4)
        {
            if (IcmpHeader.Type(icmp) != IcmpHeader.V4EchoRequest || IcmpHeader.Code(icmp) != 0)
            {
                return 0;
            }

            uint source = IPv4Header.Source(packet);
            BinaryPrimitives.WriteUInt32BigEndian(packet[12..], IPv4Header.Destination(packet));
            BinaryPrimitives.WriteUInt32BigEndian(packet[16..], source);
            packet[8] = IPv4Header.DefaultTtl;
            IPv4Header.UpdateChecksum(packet);
            icmp[0] = IcmpHeader.V4EchoReply;
            IcmpHeader.UpdateChecksum(icmp);
            return info.Length;
        }

        if (IcmpHeader.Type(icmp) != IcmpHeader.V6EchoRequest || IcmpHeader.Code(icmp) != 0)
        {
            return 0;
        }

        // The reply goes from the virtual IP to the requester: a fixed header without extension headers.
        int icmpLength = icmp.Length;
        icmp.CopyTo(packet[IPv6Header.Length..]);
        IPv6Header.Write(packet, info.Destination, info.Source, IpProtocol.IcmpV6, icmpLength);
        Span<byte> reply = packet.Slice(IPv6Header.Length, icmpLength);
        reply[0] = IcmpHeader.V6EchoReply;
        IcmpHeader.UpdateChecksum(reply, InternetChecksum.PseudoHeaderV6(packet[8..], packet[24..], IpProtocol.IcmpV6, icmpLength));
        return IPv6Header.Length + icmpLength;
    }

    /// <summary>
    /// An ICMP port unreachable for <paramref name="packet"/> (RFC 792 type 3 code 3 / RFC 4443 type 1 code 4),
    /// from its destination to its source, quoting as much of it as the limits above allow.
    /// </summary>
    public static int PortUnreachable(ReadOnlySpan<byte> packet, in PacketInfo info, Span<byte> destination)
    {
        bool v6 = info.Version == 6;
        int header = v6 ? IPv6Header.Length : IPv4Header.MinLength;
        int quoted = Math.Min(info.Length, (v6 ? MaxIcmpV6Error : MaxIcmpV4Error) - header - IcmpHeader.Length);
        int icmpLength = IcmpHeader.Length + quoted;
        Span<byte> icmp = destination.Slice(header, icmpLength);
        icmp[0] = v6 ? IcmpHeader.V6DestinationUnreachable : IcmpHeader.V4DestinationUnreachable;
        icmp[1] = v6 ? IcmpHeader.V6PortUnreachableCode : IcmpHeader.V4PortUnreachableCode;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], 0);
        packet[..quoted].CopyTo(icmp[IcmpHeader.Length..]);
        if (v6)
        {
            IPv6Header.Write(destination, info.Destination, info.Source, IpProtocol.IcmpV6, icmpLength);
            IcmpHeader.UpdateChecksum(icmp, InternetChecksum.PseudoHeaderV6(destination[8..], destination[24..], IpProtocol.IcmpV6, icmpLength));
        }
        else
        {
            IPv4Header.Write(destination, info.Destination.V4Value, info.Source.V4Value, IpProtocol.Icmp, icmpLength);
            IcmpHeader.UpdateChecksum(icmp);
        }

        return header + icmpLength;
    }

    /// <summary>
    /// A RST answering a segment for which no connection exists (RFC 9293 §3.5.2 "Reset Generation"):
    /// with ACK set, seq = SEG.ACK; otherwise seq = 0 and ack = SEG.SEQ + SEG.LEN with ACK set.
    /// Returns 0 when the segment is itself a RST (never answer a RST).
    /// </summary>
    public static int Reset(ReadOnlySpan<byte> packet, in PacketInfo info, Span<byte> destination)
    {
        ReadOnlySpan<byte> tcp = packet[info.TransportOffset..info.Length];
        TcpFlags flags = TcpHeader.Flags(tcp);
        if ((flags & TcpFlags.Rst) != 0)
        {
            return 0;
        }

        uint sequence = 0, acknowledgment = 0;
        TcpFlags replyFlags = TcpFlags.Rst;
        if ((flags & TcpFlags.Ack) != 0)
        {
            sequence = TcpHeader.AcknowledgmentNumber(tcp);
        }
        else
        {
            int segmentLength = info.Length - info.PayloadOffset + ((flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((flags & TcpFlags.Fin) != 0 ? 1 : 0);
            acknowledgment = TcpHeader.SequenceNumber(tcp) + (uint)segmentLength;
            replyFlags |= TcpFlags.Ack;
        }

        return Tcp(info.Destination, info.DestinationPort, info.Source, info.SourcePort, sequence, acknowledgment, replyFlags, destination);
    }

    /// <summary>A bare TCP segment (no options, no payload) with correct checksums.</summary>
    public static int Tcp(NetAddress from, ushort fromPort, NetAddress to, ushort toPort, uint sequence, uint acknowledgment, TcpFlags flags, Span<byte> destination)
    {
        int header = from.IsV6 ? IPv6Header.Length : IPv4Header.MinLength;
        Span<byte> tcp = destination.Slice(header, TcpHeader.MinLength);
        TcpHeader.Write(tcp, fromPort, toPort, sequence, acknowledgment, flags, 0);
        WriteIp(destination, from, to, IpProtocol.Tcp, TcpHeader.MinLength);
        TcpHeader.UpdateChecksum(tcp, InternetChecksum.PseudoHeader(from, to, IpProtocol.Tcp, TcpHeader.MinLength));
        return header + TcpHeader.MinLength;
    }

    /// <summary>A UDP datagram from <paramref name="from"/> to <paramref name="to"/> with IP and UDP checksums.</summary>
    public static int Udp(NetEndpoint from, NetEndpoint to, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        int header = from.Address.IsV6 ? IPv6Header.Length : IPv4Header.MinLength;
        int udpLength = UdpHeader.Length + payload.Length;
        Span<byte> udp = destination.Slice(header, udpLength);
        UdpHeader.Write(udp, from.Port, to.Port, payload.Length);
        payload.CopyTo(udp[UdpHeader.Length..]);
        WriteIp(destination, from.Address, to.Address, IpProtocol.Udp, udpLength);
        UdpHeader.UpdateChecksum(udp, InternetChecksum.PseudoHeader(from.Address, to.Address, IpProtocol.Udp, udpLength));
        return header + udpLength;
    }

    private static void WriteIp(Span<byte> destination, NetAddress from, NetAddress to, byte protocol, int payloadLength)
    {
        if (from.IsV6)
        {
            IPv6Header.Write(destination, from, to, protocol, payloadLength);
        }
        else
        {
            IPv4Header.Write(destination, from.V4Value, to.V4Value, protocol, payloadLength);
        }
    }
}
