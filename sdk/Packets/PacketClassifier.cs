using System.Buffers.Binary;
using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Packets;

/// <summary>
/// One-call validation and classification of an IP packet: version, addresses, protocol, ports and where
/// the payload starts. Never throws on bad input: it returns a <see cref="PacketError"/> instead.
/// </summary>
/// <remarks>
/// Checksums are not verified here (that costs a pass over the payload); use the per-header
/// <c>IsChecksumValid</c> methods where a packet is terminated. Fragments are refused (the gateway does not
/// reassemble); IPv6 hop-by-hop, routing and destination-options headers are skipped (RFC 8200 §4).
/// </remarks>
public static class PacketClassifier
{
    private const int MaxExtensionHeaders = 8;

    /// <summary>Validates <paramref name="packet"/> and describes it in <paramref name="info"/>.</summary>
    /// <returns><see cref="PacketError.None"/> for a well-formed packet, otherwise the first problem found.</returns>
    public static PacketError Classify(ReadOnlySpan<byte> packet, out PacketInfo info)
    {
        info = default;
        if (packet.IsEmpty)
        {
            return PacketError.Truncated;
        }

        return (packet[0] >> 4) switch
        {
            4 => ClassifyV4(packet, out info),
            6 => ClassifyV6(packet, out info),
            _ => PacketError.BadVersion,
        };
    }

    /// <summary>True when <paramref name="packet"/> is well formed; see <see cref="Classify"/>.</summary>
    public static bool TryClassify(ReadOnlySpan<byte> packet, out PacketInfo info) => Classify(packet, out info) == PacketError.None;

    private static PacketError ClassifyV4(ReadOnlySpan<byte> packet, out PacketInfo info)
    {
        info = default;
        if (packet.Length < IPv4Header.MinLength)
        {
            return PacketError.Truncated;
        }

        int headerLength = IPv4Header.HeaderLength(packet);
        int totalLength = IPv4Header.TotalLength(packet);
        if (headerLength < IPv4Header.MinLength || headerLength > packet.Length)
        {
            return PacketError.BadHeaderLength;
        }

        if (totalLength < headerLength || totalLength > packet.Length)
        {
            return PacketError.BadTotalLength;
        }

        if (IPv4Header.IsFragment(packet))
        {
            return PacketError.Fragment;
        }

        NetAddress source = NetAddress.FromV4(IPv4Header.Source(packet));
        NetAddress destination = NetAddress.FromV4(IPv4Header.Destination(packet));
        return ClassifyTransport(packet[..totalLength], 4, source, destination, IPv4Header.Protocol(packet), headerLength, out info);
    }

    private static PacketError ClassifyV6(ReadOnlySpan<byte> packet, out PacketInfo info)
    {
        info = default;
        if (packet.Length < IPv6Header.Length)
        {
            return PacketError.Truncated;
        }

        int totalLength = IPv6Header.Length + IPv6Header.PayloadLength(packet);
        if (totalLength > packet.Length)
        {
            return PacketError.BadTotalLength;
        }

        packet = packet[..totalLength];
        byte next = IPv6Header.NextHeader(packet);
        int offset = IPv6Header.Length;
        for (int i = 0; i < MaxExtensionHeaders; i++)
        {
            if (next == IpProtocol.Fragment)
            {
                return PacketError.Fragment;
            }

            if (next is not (IpProtocol.HopByHop or IpProtocol.Routing or IpProtocol.DestinationOptions))
            {
                break;
            }

            // RFC 8200 §4.3–4.6: next header, then length in 8-octet units not counting the first 8.
            if (offset + 8 > packet.Length)
            {
                return PacketError.Truncated;
            }

            next = packet[offset];
            offset += (packet[offset + 1] + 1) * 8;
            if (offset > packet.Length)
            {
                return PacketError.Truncated;
            }
        }

        return ClassifyTransport(packet, 6, IPv6Header.Source(packet), IPv6Header.Destination(packet), next, offset, out info);
    }

    private static PacketError ClassifyTransport(ReadOnlySpan<byte> packet, byte version, NetAddress source, NetAddress destination, byte protocol, int offset, out PacketInfo info)
    {
        info = default;
        ReadOnlySpan<byte> transport = packet[offset..];
        ushort sourcePort = 0, destinationPort = 0;
        int payloadOffset = offset;
        int length = packet.Length;
        switch (protocol)
        {
            case IpProtocol.Tcp:
                if (transport.Length < TcpHeader.MinLength)
                {
                    return PacketError.Truncated;
                }

                int tcpHeaderLength = TcpHeader.HeaderLength(transport);
                if (tcpHeaderLength < TcpHeader.MinLength || tcpHeaderLength > transport.Length)
                {
                    return PacketError.BadTransportHeader;
                }

                sourcePort = TcpHeader.SourcePort(transport);
                destinationPort = TcpHeader.DestinationPort(transport);
                payloadOffset = offset + tcpHeaderLength;
                break;

            case IpProtocol.Udp:
                if (transport.Length < UdpHeader.Length)
                {
                    return PacketError.Truncated;
                }

                int udpLength = UdpHeader.DatagramLength(transport);
                if (udpLength < UdpHeader.Length || udpLength > transport.Length)
                {
                    return PacketError.BadTransportHeader;
                }

                sourcePort = UdpHeader.SourcePort(transport);
                destinationPort = UdpHeader.DestinationPort(transport);
                payloadOffset = offset + UdpHeader.Length;
                length = offset + udpLength;
                break;

            case IpProtocol.Icmp or IpProtocol.IcmpV6:
                if (transport.Length < IcmpHeader.Length)
                {
                    return PacketError.Truncated;
                }

                // Echo identifier: lets NAT-like code key ICMP echo flows like ports.
                sourcePort = BinaryPrimitives.ReadUInt16BigEndian(transport[4..]);
                payloadOffset = offset + IcmpHeader.Length;
                break;
        }

        info = new PacketInfo(version, source, destination, protocol, sourcePort, destinationPort, offset, payloadOffset, length);
        return PacketError.None;
    }
}
