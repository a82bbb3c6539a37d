using System.Net;
using Gateway.Fuzz;
using Gateway.Host.Dispatch;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using PacketDotNet.Utils;
using PacketDotNet;

namespace Gateway.Tests.Differential;

/// <summary>
/// Our packet headers and checksums (sdk/Packets, host/Dispatch/ReplyBuilder) judged by PacketDotNet 1.4.8 on the
/// same bytes: packets wireguard-go's TUN read (the fuzz seeds), random IPv4/IPv6 UDP, TCP and ICMP packets
/// PacketDotNet builds, and copies with one byte changed. The zero-copy readers stay ours; PacketDotNet judges them.
/// </summary>
public sealed class PacketDifferentialTests
{
    [Fact]
    public void Classify_AgainstPacketDotNet_SameHeadersPortsAndChecksumVerdicts()
    {
        var failures = new List<string>();
        int compared = 0;
        foreach ((string source, byte[] bytes) in Packets())
        {
            if (PacketClassifier.Classify(bytes, out PacketInfo info) != PacketError.None)
            {
                continue;
            }

            compared++;
            IPPacket ip = Packet.ParsePacket(LinkLayers.Raw, bytes).Extract<IPPacket>();
            void Expect(bool condition, string what)
            {
                if (!condition)
                {
                    failures.Add($"{source}: {what}: {Convert.ToHexString(bytes)}");
                }
            }

            Expect(ip.Version == (info.Version == 4 ? IPVersion.IPv4 : IPVersion.IPv6), "version");
            Expect(ip.SourceAddress.Equals(info.Source.ToIPAddress()) && ip.DestinationAddress.Equals(info.Destination.ToIPAddress()), "addresses");
            Expect((byte)ip.Protocol == info.Protocol, $"protocol {ip.Protocol} / {info.Protocol}");
            if (ip is IPv4Packet v4)
            {
                Expect(v4.HeaderLength * 4 == info.TransportOffset && v4.TotalLength == IPv4Header.TotalLength(bytes), "IPv4 header or total length");
                Expect(v4.ValidIPChecksum == IPv4Header.IsChecksumValid(bytes), "IPv4 header checksum verdict");
            }

            ReadOnlySpan<byte> transport = bytes.AsSpan(info.TransportOffset, info.Length - info.TransportOffset);
            ulong pseudo = InternetChecksum.PseudoHeader(info.Source, info.Destination, info.Protocol, transport.Length);
            switch (ip.PayloadPacket)
            {
                case UdpPacket udp:
                    Expect(udp.SourcePort == info.SourcePort && udp.DestinationPort == info.DestinationPort && udp.Length == transport.Length, "UDP ports or length");
                    // RFC 768: a zero checksum over IPv4 means "none"; PacketDotNet computes it anyway.
                    if (!(info.Version == 4 && UdpHeader.Checksum(transport) == 0))
                    {
                        Expect(udp.ValidUdpChecksum == UdpHeader.IsChecksumValid(transport, pseudo, zeroAllowed: info.Version == 4), "UDP checksum verdict");
                    }

                    break;
                case TcpPacket tcp:
                    Expect(tcp.SourcePort == info.SourcePort && tcp.DestinationPort == info.DestinationPort && tcp.DataOffset * 4 == info.PayloadOffset - info.TransportOffset, "TCP ports or data offset");
                    Expect((byte)tcp.Flags == (byte)TcpHeader.Flags(transport) && tcp.SequenceNumber == TcpHeader.SequenceNumber(transport), "TCP flags or sequence");
                    Expect(tcp.ValidTcpChecksum == TcpHeader.IsChecksumValid(transport, pseudo), "TCP checksum verdict");
                    break;
                case IcmpV4Packet icmp:
                    Expect(icmp.ValidIcmpChecksum == IcmpHeader.IsChecksumValid(transport), "ICMPv4 checksum verdict");
                    Expect((ushort)icmp.TypeCode == ((IcmpHeader.Type(transport) << 8) | IcmpHeader.Code(transport)), "ICMPv4 type/code");
                    break;
                case IcmpV6Packet icmp6:
                    Expect(icmp6.ValidIcmpChecksum == IcmpHeader.IsChecksumValid(transport, pseudo), "ICMPv6 checksum verdict");
                    Expect((byte)icmp6.Type == IcmpHeader.Type(transport) && icmp6.Code == IcmpHeader.Code(transport), "ICMPv6 type/code");
                    break;
            }
        }

        Assert.True(compared > 500, $"only {compared} packets were compared");
        Assert.True(failures.Count == 0, $"{failures.Count} disagreements:\n" + string.Join('\n', failures.Take(15)));
    }

    [Fact]
    public void ReplyBuilder_EveryReply_PacketDotNetReadsItWithValidChecksums()
    {
        // What the dispatcher writes back: UDP answers, echo replies, port unreachable, RST — for each request.
        var failures = new List<string>();
        int replies = 0;
        byte[] buffer = new byte[2048];
        foreach ((string source, byte[] request) in Packets().Where(p => p.Source.StartsWith("random", StringComparison.Ordinal) || p.Source.StartsWith("capture", StringComparison.Ordinal)))
        {
            if (PacketClassifier.Classify(request, out PacketInfo info) != PacketError.None)
            {
                continue;
            }

            var outputs = new List<(string Kind, byte[] Bytes)>();
            if (info.Protocol == IpProtocol.Udp)
            {
                int length = ReplyBuilder.Udp(new NetEndpoint(info.Destination, info.DestinationPort), new NetEndpoint(info.Source, info.SourcePort), request.AsSpan(info.PayloadOffset, info.PayloadLength), buffer);
                outputs.Add(("udp reply", buffer[..length]));
                outputs.Add(("port unreachable", buffer[..ReplyBuilder.PortUnreachable(request, info, buffer)]));
            }
            else if (info.Protocol == IpProtocol.Tcp && (TcpHeader.Flags(request.AsSpan(info.TransportOffset)) & TcpFlags.Rst) == 0)
            {
                outputs.Add(("rst", buffer[..ReplyBuilder.Reset(request, info, buffer)]));
            }
            else if (info.Protocol is IpProtocol.Icmp or IpProtocol.IcmpV6)
            {
                byte[] copy = (byte[])request.Clone();
                int length = ReplyBuilder.EchoReplyInPlace(copy, info);
                if (length > 0)
                {
                    outputs.Add(("echo reply", copy[..length]));
                }
            }

            foreach ((string kind, byte[] reply) in outputs.Where(o => o.Bytes.Length > 0))
            {
                replies++;
                string? problem = Judge(reply);
                if (problem is not null)
                {
                    failures.Add($"{source} → {kind}: {problem}: {Convert.ToHexString(reply)}");
                }
            }
        }

        Assert.True(replies > 300, $"only {replies} replies were judged");
        Assert.True(failures.Count == 0, $"{failures.Count} bad replies:\n" + string.Join('\n', failures.Take(15)));
    }

    /// <summary>PacketDotNet's objections to a packet we built, or null.</summary>
    private static string? Judge(byte[] bytes)
    {
        if (Packet.ParsePacket(LinkLayers.Raw, bytes).Extract<IPPacket>() is not IPPacket ip)
        {
            return "not an IP packet";
        }

        if (ip is IPv4Packet v4 && (!v4.ValidIPChecksum || v4.TotalLength != bytes.Length))
        {
            return "IPv4 header checksum or length";
        }

        if (ip is IPv6Packet v6 && v6.PayloadLength + 40 != bytes.Length)
        {
            return "IPv6 payload length";
        }

        return ip.PayloadPacket switch
        {
            UdpPacket udp when !udp.ValidUdpChecksum => "UDP checksum",
            TcpPacket tcp when !tcp.ValidTcpChecksum => "TCP checksum",
            IcmpV4Packet icmp when !icmp.ValidIcmpChecksum => "ICMPv4 checksum",
            IcmpV6Packet icmp6 when !icmp6.ValidIcmpChecksum => "ICMPv6 checksum",
            null => "no transport",
            _ => null,
        };
    }

    /// <summary>Captured packets, random ones PacketDotNet builds (checksums by PacketDotNet), and one-byte changes of all.</summary>
    private static IEnumerable<(string Source, byte[] Bytes)> Packets()
    {
        var list = new List<(string, byte[])>();
        foreach (string file in FuzzCorpus.Files("Corpus", "packet"))
        {
            list.Add(("capture " + Path.GetFileName(file), File.ReadAllBytes(file)));
        }

        var random = new Random(20261207);
        for (int i = 0; i < 400; i++)
        {
            list.Add(($"random {i}", RandomPacket(random, i)));
        }

        int count = list.Count;
        for (int i = 0; i < 600; i++)
        {
            (string source, byte[] bytes) = list[i % count];
            byte[] changed = (byte[])bytes.Clone();
            changed[random.Next(changed.Length)] ^= (byte)(1 << random.Next(8));
            list.Add(($"changed {i} of {source}", changed));
        }

        return list;
    }

    private static byte[] RandomPacket(Random random, int i)
    {
        bool v6 = i % 2 == 1;
        IPAddress source = v6 ? new IPAddress([0xfd, 0, .. RandomBytes(random, 14)]) : new IPAddress([10, .. RandomBytes(random, 3)]);
        IPAddress destination = v6 ? new IPAddress([0xfd, 0x30, .. RandomBytes(random, 14)]) : new IPAddress([10, 30, .. RandomBytes(random, 2)]);
        IPPacket ip = v6 ? new IPv6Packet(source, destination) : new IPv4Packet(source, destination);
        byte[] payload = RandomBytes(random, random.Next(0, 600));
        switch ((i / 2) % 3)
        {
            case 0:
                var udp = new UdpPacket((ushort)random.Next(1, 65536), (ushort)random.Next(1, 65536)) { PayloadData = payload };
                ip.PayloadPacket = udp;
                ip.UpdateCalculatedValues();
                udp.UpdateUdpChecksum();
                break;
            case 1:
                // The header by hand (PacketDotNet cannot grow options on a packet it built), checksum by PacketDotNet.
                byte[] options = random.Next(2) == 0 ? [] : [2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1];
                byte[] header = RandomBytes(random, 20 + options.Length);
                header[12] = (byte)((20 + options.Length) / 4 << 4);
                header[13] = new byte[] { 0x02, 0x12, 0x10, 0x18, 0x11, 0x04 }[random.Next(6)];
                header[16] = header[17] = 0;
                options.CopyTo(header, 20);
                var tcp = new TcpPacket(new ByteArraySegment([.. header, .. payload]), ip);
                ip.PayloadPacket = tcp;
                ip.UpdateCalculatedValues();
                tcp.UpdateTcpChecksum();
                break;
            default:
                // An echo request: type 8 (ICMPv4) or 128 (ICMPv6), code 0, identifier, sequence, data.
                byte[] icmpBytes = [(byte)(v6 ? 128 : 8), 0, 0, 0, .. RandomBytes(random, 4), .. payload];
                Packet icmp = v6 ? new IcmpV6Packet(new ByteArraySegment(icmpBytes), ip) : new IcmpV4Packet(new ByteArraySegment(icmpBytes), ip);
                ip.PayloadPacket = icmp;
                ip.UpdateCalculatedValues();
                if (icmp is IcmpV6Packet icmp6)
                {
                    icmp6.UpdateIcmpChecksum();
                }
                else
                {
                    ((IcmpV4Packet)icmp).UpdateIcmpChecksum();
                }

                break;
        }

        if (ip is IPv4Packet v4)
        {
            v4.UpdateIPChecksum();
        }

        return ip.Bytes;
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        byte[] bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
