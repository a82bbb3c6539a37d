using System.Buffers.Binary;
using Gateway.Host.Tun;
using Gateway.Sdk.Packets;

namespace Gateway.Tests.Tun;

public sealed class GsoSplitterTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Append_TcpSuperPacket_SplitsIntoGsoSizedSegmentsWithValidHeaders(bool v6)
    {
        byte[] payload = OffloadPackets.Payload(0, 4000);
        byte[] super = OffloadPackets.Tcp(v6, 1_000_000, payload, TcpFlags.Ack | TcpFlags.Psh | TcpFlags.Fin | TcpFlags.Cwr, id: 7);
        int ipLength = OffloadPackets.IpLength(super);
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, v6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, (ushort)(ipLength + 32), 1448, (ushort)ipLength, 16);

        List<byte[]> segments = OffloadPackets.Split(OffloadPackets.Frame(header, super));

        Assert.Equal(3, segments.Count);
        int[] sizes = [1448, 1448, 1104];
        for (int i = 0; i < segments.Count; i++)
        {
            byte[] segment = segments[i];
            OffloadPackets.AssertValid(segment, IpProtocol.Tcp);
            Assert.Equal(ipLength + 32 + sizes[i], segment.Length);
            Assert.Equal(OffloadPackets.Payload(i * 1448, sizes[i]), OffloadPackets.TcpPayload(segment));
            ReadOnlySpan<byte> tcp = segment.AsSpan(ipLength);
            Assert.Equal(1_000_000u + (uint)(i * 1448), TcpHeader.SequenceNumber(tcp));
            TcpFlags flags = TcpHeader.Flags(tcp);
            bool last = i == segments.Count - 1;
            Assert.Equal(last, (flags & TcpFlags.Psh) != 0);
            Assert.Equal(last, (flags & TcpFlags.Fin) != 0);
            Assert.Equal(i == 0, (flags & TcpFlags.Cwr) != 0);
            Assert.True((flags & TcpFlags.Ack) != 0);
            Assert.Equal(super.AsSpan(ipLength + 20, 12).ToArray(), tcp.Slice(20, 12).ToArray());
            if (!v6)
            {
                Assert.Equal(7 + i, IPv4Header.Identification(segment));
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Append_UdpSuperPacket_SplitsIntoDatagramsWithLengthsAndChecksums(bool v6)
    {
        byte[] super = OffloadPackets.Udp(v6, OffloadPackets.Payload(0, 2500), id: 40);
        int ipLength = OffloadPackets.IpLength(super);
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoUdpL4, (ushort)(ipLength + 8), 1000, (ushort)ipLength, 6);

        List<byte[]> datagrams = OffloadPackets.Split(OffloadPackets.Frame(header, super));

        Assert.Equal(3, datagrams.Count);
        int[] sizes = [1000, 1000, 500];
        for (int i = 0; i < datagrams.Count; i++)
        {
            OffloadPackets.AssertValid(datagrams[i], IpProtocol.Udp);
            Assert.Equal(OffloadPackets.Payload(i * 1000, sizes[i]), datagrams[i].AsSpan(ipLength + 8).ToArray());
            if (!v6)
            {
                Assert.Equal(40 + i, IPv4Header.Identification(datagrams[i]));
            }
        }
    }

    [Fact]
    public void Append_SuperPacketOfExactlyOneSegment_YieldsOnePacket()
    {
        byte[] super = OffloadPackets.Tcp(false, 9, OffloadPackets.Payload(0, 1448), TcpFlags.Ack | TcpFlags.Psh);
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoTcpV4, 52, 1448, 20, 16);

        List<byte[]> segments = OffloadPackets.Split(OffloadPackets.Frame(header, super));

        byte[] only = Assert.Single(segments);
        OffloadPackets.AssertValid(only, IpProtocol.Tcp);
        Assert.Equal(TcpFlags.Ack | TcpFlags.Psh, TcpHeader.Flags(only.AsSpan(20)));
    }

    [Theory]
    [InlineData(false, IpProtocol.Tcp)]
    [InlineData(true, IpProtocol.Tcp)]
    [InlineData(false, IpProtocol.Udp)]
    [InlineData(true, IpProtocol.Udp)]
    public void Append_NeedsChecksumWithoutGso_CompletesTheChecksum(bool v6, byte protocol)
    {
        byte[] packet = protocol == IpProtocol.Tcp
            ? OffloadPackets.Tcp(v6, 77, OffloadPackets.Payload(3, 333))
            : OffloadPackets.Udp(v6, OffloadPackets.Payload(3, 333));
        int ipLength = OffloadPackets.IpLength(packet);
        int offset = protocol == IpProtocol.Tcp ? 16 : 6;

        // CHECKSUM_PARTIAL as the kernel hands it over: the folded pseudo-header sum in the checksum field.
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(ipLength + offset), InternetChecksum.Fold(OffloadPackets.Pseudo(packet, protocol)));
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoNone, 0, 0, (ushort)ipLength, (ushort)offset);

        byte[] completed = Assert.Single(OffloadPackets.Split(OffloadPackets.Frame(header, packet)));

        OffloadPackets.AssertValid(completed, protocol);
    }

    [Fact]
    public void Append_PlainPacket_IsAddedUnchanged()
    {
        byte[] packet = OffloadPackets.Tcp(false, 1, OffloadPackets.Payload(0, 100));

        byte[] added = Assert.Single(OffloadPackets.Split(OffloadPackets.Frame(VirtioNetHeader.None, packet)));

        Assert.Equal(packet, added);
    }

    [Theory]
    [InlineData(VirtioNetHeader.GsoTcpV6, 20, 1448)]   // TCPv6 on an IPv4 packet
    [InlineData(VirtioNetHeader.GsoTcpV4, 24, 1448)]   // csum_start is not the IPv4 header length
    [InlineData(VirtioNetHeader.GsoUdp, 20, 1448)]     // UFO is never enabled
    [InlineData(VirtioNetHeader.GsoTcpV4, 20, 0)]      // gso_size zero
    [InlineData(VirtioNetHeader.GsoUdpL4, 20, 1448)]   // UDP segmentation of a TCP packet
    public void Append_HeaderThatDoesNotDescribeThePacket_IsMalformed(byte gsoType, int checksumStart, int gsoSize)
    {
        byte[] packet = OffloadPackets.Tcp(false, 1, OffloadPackets.Payload(0, 3000));
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, gsoType, 52, (ushort)gsoSize, (ushort)checksumStart, 16);

        Assert.Equal(SplitResult.Malformed, GsoSplitter.Append(header, packet, new PacketBatch(64, 1 << 20)));
    }

    [Fact]
    public void Append_NeedsChecksumPastTheEnd_IsMalformed()
    {
        byte[] packet = OffloadPackets.Udp(false, OffloadPackets.Payload(0, 4));
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoNone, 0, 0, 20, 200);

        Assert.Equal(SplitResult.Malformed, GsoSplitter.Append(header, packet, new PacketBatch(4, 4096)));
    }

    [Fact]
    public void Append_BatchWithoutRoom_ReturnsNoRoomAndASecondTryInAnEmptyBatchSucceeds()
    {
        byte[] super = OffloadPackets.Tcp(false, 500, OffloadPackets.Payload(0, 6000));
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoTcpV4, 52, 1000, 20, 16);
        var batch = new PacketBatch(8, 1 << 16);
        Assert.True(batch.TryAdd(new byte[100]));
        Assert.True(batch.TryAdd(new byte[100]));
        Assert.True(batch.TryAdd(new byte[100]));

        Assert.Equal(SplitResult.NoRoom, GsoSplitter.Append(header, super, batch));
        Assert.Equal(3, batch.Count);

        batch.Clear();
        Assert.Equal(SplitResult.Added, GsoSplitter.Append(header, super, batch));
        Assert.Equal(6, batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            OffloadPackets.AssertValid(batch[i], IpProtocol.Tcp);
        }
    }

    [Fact]
    public void Append_PartialChecksumAndNoRoom_LeavesThePacketForTheRetry()
    {
        byte[] packet = OffloadPackets.Udp(false, OffloadPackets.Payload(0, 50));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(26), InternetChecksum.Fold(OffloadPackets.Pseudo(packet, IpProtocol.Udp)));
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoNone, 0, 0, 20, 6);
        var batch = new PacketBatch(1, 4096);
        Assert.True(batch.TryAdd(new byte[10]));

        Assert.Equal(SplitResult.NoRoom, GsoSplitter.Append(header, packet, batch));
        batch.Clear();
        Assert.Equal(SplitResult.Added, GsoSplitter.Append(header, packet, batch));

        OffloadPackets.AssertValid(batch[0], IpProtocol.Udp);
    }
}
