using System.Buffers.Binary;
using Gateway.Host.Tun;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;

namespace Gateway.Tests.Tun;

/// <summary>Builds TCP and UDP packets with correct checksums, and checks them, for the offload tests.</summary>
internal static class OffloadPackets
{
    public static readonly NetAddress V4Source = NetAddress.Parse("10.99.0.2");
    public static readonly NetAddress V4Destination = NetAddress.Parse("10.99.0.1");
    public static readonly NetAddress V6Source = NetAddress.Parse("fd99::2");
    public static readonly NetAddress V6Destination = NetAddress.Parse("fd99::1");

    /// <summary>Payload byte i of a stream: distinct enough to catch misplaced slices.</summary>
    public static byte[] Payload(int offset, int length)
    {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)((offset + i) * 7 + ((offset + i) >> 8));
        }

        return data;
    }

    /// <summary>A TCP segment (IPv4 DF set, or IPv6) with a timestamp option when <paramref name="options"/>.</summary>
    public static byte[] Tcp(bool v6, uint sequence, byte[] payload, TcpFlags flags = TcpFlags.Ack, uint ack = 5000, ushort window = 512, ushort id = 100, bool options = true, ushort sourcePort = 40000)
    {
        int ipLength = v6 ? IPv6Header.Length : IPv4Header.MinLength;
        int tcpLength = options ? 32 : 20;
        byte[] packet = new byte[ipLength + tcpLength + payload.Length];
        if (v6)
        {
            IPv6Header.Write(packet, V6Source, V6Destination, IpProtocol.Tcp, tcpLength + payload.Length);
        }
        else
        {
            IPv4Header.Write(packet, V4Source.V4Value, V4Destination.V4Value, IpProtocol.Tcp, tcpLength + payload.Length, identification: id);
        }

        Span<byte> tcp = packet.AsSpan(ipLength);
        TcpHeader.Write(tcp, sourcePort, 5201, sequence, ack, flags, window);
        if (options)
        {
            tcp[12] = (32 / 4) << 4;
            byte[] timestamps = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];
            timestamps.CopyTo(tcp[20..]);
        }

        payload.CopyTo(tcp[tcpLength..]);
        TcpHeader.UpdateChecksum(tcp, Pseudo(packet, IpProtocol.Tcp));
        return packet;
    }

    /// <summary>A UDP datagram.</summary>
    public static byte[] Udp(bool v6, byte[] payload, ushort id = 100, ushort sourcePort = 40000)
    {
        int ipLength = v6 ? IPv6Header.Length : IPv4Header.MinLength;
        byte[] packet = new byte[ipLength + UdpHeader.Length + payload.Length];
        if (v6)
        {
            IPv6Header.Write(packet, V6Source, V6Destination, IpProtocol.Udp, UdpHeader.Length + payload.Length);
        }
        else
        {
            IPv4Header.Write(packet, V4Source.V4Value, V4Destination.V4Value, IpProtocol.Udp, UdpHeader.Length + payload.Length, identification: id);
        }

        Span<byte> udp = packet.AsSpan(ipLength);
        UdpHeader.Write(udp, sourcePort, 53, payload.Length);
        payload.CopyTo(udp[UdpHeader.Length..]);
        UdpHeader.UpdateChecksum(udp, Pseudo(packet, IpProtocol.Udp));
        return packet;
    }

    public static int IpLength(ReadOnlySpan<byte> packet) => packet[0] >> 4 == 6 ? IPv6Header.Length : IPv4Header.HeaderLength(packet);

    /// <summary>The pseudo-header sum of a packet whose transport starts after a plain IP header.</summary>
    public static ulong Pseudo(ReadOnlySpan<byte> packet, byte protocol)
    {
        int ipLength = IpLength(packet);
        int transportLength = packet.Length - ipLength;
        return packet[0] >> 4 == 6
            ? InternetChecksum.PseudoHeaderV6(packet[8..], packet[24..], protocol, transportLength)
            : InternetChecksum.PseudoHeaderV4(packet, protocol, transportLength);
    }

    /// <summary>Asserts the IP length fields, the IPv4 header checksum and the transport checksum of a packet, by recomputing them.</summary>
    public static void AssertValid(ReadOnlySpan<byte> packet, byte protocol)
    {
        int ipLength = IpLength(packet);
        if (packet[0] >> 4 == 4)
        {
            Assert.Equal(packet.Length, IPv4Header.TotalLength(packet));
            Assert.True(IPv4Header.IsChecksumValid(packet), "IPv4 header checksum");
        }
        else
        {
            Assert.Equal(packet.Length - IPv6Header.Length, IPv6Header.PayloadLength(packet));
        }

        ReadOnlySpan<byte> transport = packet[ipLength..];
        if (protocol == IpProtocol.Tcp)
        {
            Assert.True(TcpHeader.IsChecksumValid(transport, Pseudo(packet, protocol)), "TCP checksum");
        }
        else
        {
            Assert.Equal(transport.Length, UdpHeader.DatagramLength(transport));
            Assert.True(UdpHeader.IsChecksumValid(transport, Pseudo(packet, protocol), zeroAllowed: false), "UDP checksum");
        }
    }

    /// <summary>The payload of a TCP packet.</summary>
    public static byte[] TcpPayload(ReadOnlySpan<byte> packet)
    {
        ReadOnlySpan<byte> tcp = packet[IpLength(packet)..];
        return tcp[TcpHeader.HeaderLength(tcp)..].ToArray();
    }

    /// <summary>The payload of a UDP packet.</summary>
    public static byte[] UdpPayload(ReadOnlySpan<byte> packet) => packet[(IpLength(packet) + UdpHeader.Length)..].ToArray();

    /// <summary>Splits a frame (virtio header + packet) the way the read loop does and returns the packets.</summary>
    public static List<byte[]> Split(ReadOnlySpan<byte> frame)
    {
        var batch = new PacketBatch(256, 1 << 20);
        byte[] packet = frame[VirtioNetHeader.Size..].ToArray();
        Assert.Equal(SplitResult.Added, GsoSplitter.Append(VirtioNetHeader.Read(frame), packet, batch));
        var packets = new List<byte[]>();
        for (int i = 0; i < batch.Count; i++)
        {
            packets.Add(batch[i].ToArray());
        }

        return packets;
    }

    /// <summary>Concatenates a virtio header and a packet into a frame.</summary>
    public static byte[] Frame(VirtioNetHeader header, ReadOnlySpan<byte> packet)
    {
        byte[] frame = new byte[VirtioNetHeader.Size + packet.Length];
        header.Write(frame);
        packet.CopyTo(frame.AsSpan(VirtioNetHeader.Size));
        return frame;
    }

    /// <summary>Sets a packet's IPv4 identification and fixes the header checksum.</summary>
    public static void SetId(Span<byte> packet, ushort id)
    {
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], id);
        IPv4Header.UpdateChecksum(packet);
    }
}
