using System.Buffers.Binary;
using Gateway.Host.Tun;
using Gateway.Sdk.Packets;

namespace Gateway.Tests.Tun;

public sealed class WriteCoalescerTests
{
    private readonly List<byte[]> _frames = new();
    private readonly WriteCoalescer _coalescer;

    public WriteCoalescerTests()
    {
        _coalescer = new WriteCoalescer(new RecordingWriter(_frames));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Flush_ConsecutiveSegmentsOfOneFlow_WritesOneGsoSuperPacketThatSplitsBackIntoThem(bool v6)
    {
        byte[][] segments =
        [
            OffloadPackets.Tcp(v6, 1000, OffloadPackets.Payload(0, 1000), id: 10),
            OffloadPackets.Tcp(v6, 2000, OffloadPackets.Payload(1000, 1000), id: 11),
            OffloadPackets.Tcp(v6, 3000, OffloadPackets.Payload(2000, 400), TcpFlags.Ack | TcpFlags.Psh, id: 12),
        ];
        foreach (byte[] segment in segments)
        {
            Assert.True(_coalescer.Enqueue(segment));
        }

        Assert.True(_coalescer.Flush());

        byte[] frame = Assert.Single(_frames);
        int ipLength = v6 ? 40 : 20;
        VirtioNetHeader header = VirtioNetHeader.Read(frame);
        Assert.Equal(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, v6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4, (ushort)(ipLength + 32), 1000, (ushort)ipLength, 16), header);
        byte[] super = frame[VirtioNetHeader.Size..];
        Assert.Equal(ipLength + 32 + 2400, super.Length);
        Assert.Equal(OffloadPackets.Payload(0, 2400), OffloadPackets.TcpPayload(super));
        Assert.Equal(TcpFlags.Ack | TcpFlags.Psh, TcpHeader.Flags(super.AsSpan(ipLength)));
        if (!v6)
        {
            Assert.Equal(super.Length, IPv4Header.TotalLength(super));
            Assert.True(IPv4Header.IsChecksumValid(super));
        }
        else
        {
            Assert.Equal(super.Length - 40, IPv6Header.PayloadLength(super));
        }

        // CHECKSUM_PARTIAL: the field is the folded pseudo-header sum of the whole super-packet.
        Assert.Equal(InternetChecksum.Fold(OffloadPackets.Pseudo(super, IpProtocol.Tcp)), BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(ipLength + 16)));

        // What the kernel does with it (segmentation with full checksums) gives back the original segments.
        List<byte[]> resplit = OffloadPackets.Split(frame);
        Assert.Equal(segments.Length, resplit.Count);
        for (int i = 0; i < segments.Length; i++)
        {
            Assert.Equal(segments[i], resplit[i]);
        }

        Assert.Equal(2, _coalescer.Coalesced);
    }

    [Fact]
    public void Flush_SegmentAfterPsh_StartsANewSuperPacket()
    {
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 0, OffloadPackets.Payload(0, 100), TcpFlags.Ack | TcpFlags.Psh));
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 100, OffloadPackets.Payload(100, 100)));
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 200, OffloadPackets.Payload(200, 100)));

        _coalescer.Flush();

        Assert.Equal(2, _frames.Count);
        Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(_frames[0]));
        Assert.Equal(VirtioNetHeader.GsoTcpV4, VirtioNetHeader.Read(_frames[1]).GsoType);
        Assert.Equal(OffloadPackets.Payload(100, 200), OffloadPackets.TcpPayload(_frames[1].AsSpan(VirtioNetHeader.Size)));
    }

    [Fact]
    public void Flush_SegmentAfterAShorterOne_IsNotMerged()
    {
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 0, OffloadPackets.Payload(0, 100)));
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 100, OffloadPackets.Payload(100, 50)));
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 150, OffloadPackets.Payload(150, 50)));

        _coalescer.Flush();

        Assert.Equal(2, _frames.Count);
        Assert.Equal(OffloadPackets.Payload(0, 150), OffloadPackets.TcpPayload(_frames[0].AsSpan(VirtioNetHeader.Size)));
        Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(_frames[1]));
    }

    public static TheoryData<string, byte[]> NotCoalescable => new()
    {
        { "sequence gap", OffloadPackets.Tcp(false, 1100, OffloadPackets.Payload(0, 100)) },
        { "other ack", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100), ack: 5001) },
        { "other window", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100), window: 513) },
        { "other port", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100), sourcePort: 40001) },
        { "no options", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100), options: false) },
        { "FIN", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100), TcpFlags.Ack | TcpFlags.Fin) },
        { "URG", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100), TcpFlags.Ack | TcpFlags.Urg) },
        { "pure ACK", OffloadPackets.Tcp(false, 1000, []) },
        { "larger payload", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 101)) },
        { "IPv6", OffloadPackets.Tcp(true, 1000, OffloadPackets.Payload(0, 100)) },
        { "UDP", OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100)) },
        { "bad checksum", Corrupt(OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100))) },
        { "other TTL", WithTtl(OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100)), 1) },
    };

    [Theory]
    [MemberData(nameof(NotCoalescable))]
    public void Flush_SecondPacketThatMayNotJoin_IsWrittenAloneAndUnchanged(string why, byte[] second)
    {
        byte[] first = OffloadPackets.Tcp(false, 900, OffloadPackets.Payload(0, 100));
        _coalescer.Enqueue(first);
        _coalescer.Enqueue(second);

        _coalescer.Flush();

        Assert.True(_frames.Count == 2, why);
        Assert.Equal(first, _frames[0][VirtioNetHeader.Size..]);
        Assert.Equal(second, _frames[1][VirtioNetHeader.Size..]);
        Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(_frames[0]));
        Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(_frames[1]));
    }

    [Fact]
    public void Flush_FirstPacketWithBadChecksum_IsNotExtended()
    {
        byte[] first = Corrupt(OffloadPackets.Tcp(false, 0, OffloadPackets.Payload(0, 100)));
        _coalescer.Enqueue(first);
        _coalescer.Enqueue(OffloadPackets.Tcp(false, 100, OffloadPackets.Payload(100, 100)));

        _coalescer.Flush();

        Assert.Equal(2, _frames.Count);
        Assert.Equal(first, _frames[0][VirtioNetHeader.Size..]);
    }

    [Fact]
    public void Flush_SegmentsBeyond64KiB_StartASecondSuperPacket()
    {
        const int size = 1400;
        for (int i = 0; i < 60; i++)
        {
            _coalescer.Enqueue(OffloadPackets.Tcp(false, (uint)(i * size), OffloadPackets.Payload(i * size, size), id: (ushort)i));
        }

        _coalescer.Flush();

        Assert.Equal(2, _frames.Count);
        int total = 0;
        foreach (byte[] frame in _frames)
        {
            Assert.True(frame.Length - VirtioNetHeader.Size <= WriteCoalescer.MaxSuperPacket);
            List<byte[]> segments = OffloadPackets.Split(frame);
            foreach (byte[] segment in segments)
            {
                OffloadPackets.AssertValid(segment, IpProtocol.Tcp);
                Assert.Equal(OffloadPackets.Payload(total, size), OffloadPackets.TcpPayload(segment));
                total += size;
            }
        }

        Assert.Equal(60 * size, total);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Flush_UdpDatagramsOfOneFlow_WithUso_WriteOneUdpL4SuperPacketThatSplitsBackIntoThem(bool v6)
    {
        var coalescer = new WriteCoalescer(new RecordingWriter(_frames), udp: true);
        byte[][] datagrams =
        [
            OffloadPackets.Udp(v6, OffloadPackets.Payload(0, 1000), id: 10),
            OffloadPackets.Udp(v6, OffloadPackets.Payload(1000, 1000), id: 11),
            OffloadPackets.Udp(v6, OffloadPackets.Payload(2000, 400), id: 12),
        ];
        foreach (byte[] datagram in datagrams)
        {
            Assert.True(coalescer.Enqueue(datagram));
        }

        Assert.True(coalescer.Flush());

        byte[] frame = Assert.Single(_frames);
        int ipLength = v6 ? 40 : 20;
        Assert.Equal(
            new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, VirtioNetHeader.GsoUdpL4, (ushort)(ipLength + 8), 1000, (ushort)ipLength, 6),
            VirtioNetHeader.Read(frame));
        byte[] super = frame[VirtioNetHeader.Size..];
        Assert.Equal(ipLength + 8 + 2400, super.Length);
        Assert.Equal(super.Length - ipLength, UdpHeader.DatagramLength(super.AsSpan(ipLength)));
        Assert.Equal(InternetChecksum.Fold(OffloadPackets.Pseudo(super, IpProtocol.Udp)), UdpHeader.Checksum(super.AsSpan(ipLength)));

        List<byte[]> resplit = OffloadPackets.Split(frame);
        Assert.Equal(datagrams.Length, resplit.Count);
        for (int i = 0; i < datagrams.Length; i++)
        {
            OffloadPackets.AssertValid(resplit[i], IpProtocol.Udp);
            Assert.Equal(datagrams[i], resplit[i]);
        }

        Assert.Equal(2, coalescer.Coalesced);
    }

    [Fact]
    public void Flush_UdpWithoutUso_IsWrittenDatagramByDatagram()
    {
        _coalescer.Enqueue(OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100)));
        _coalescer.Enqueue(OffloadPackets.Udp(false, OffloadPackets.Payload(100, 100)));

        _coalescer.Flush();

        Assert.Equal(2, _frames.Count);
        Assert.All(_frames, frame => Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(frame)));
    }

    public static TheoryData<string, byte[]> NotCoalescableUdp => new()
    {
        { "other port", OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100), sourcePort: 40001) },
        { "larger payload", OffloadPackets.Udp(false, OffloadPackets.Payload(0, 101)) },
        { "no checksum", WithoutUdpChecksum(OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100))) },
        { "bad checksum", Corrupt(OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100))) },
        { "other TTL", WithTtl(OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100)), 1) },
        { "IPv6", OffloadPackets.Udp(true, OffloadPackets.Payload(0, 100)) },
        { "TCP", OffloadPackets.Tcp(false, 1000, OffloadPackets.Payload(0, 100)) },
        { "empty", OffloadPackets.Udp(false, []) },
    };

    [Theory]
    [MemberData(nameof(NotCoalescableUdp))]
    public void Flush_UdpDatagramThatMayNotJoin_IsWrittenAloneAndUnchanged(string why, byte[] second)
    {
        var coalescer = new WriteCoalescer(new RecordingWriter(_frames), udp: true);
        byte[] first = OffloadPackets.Udp(false, OffloadPackets.Payload(0, 100));
        coalescer.Enqueue(first);
        coalescer.Enqueue(second);

        coalescer.Flush();

        Assert.True(_frames.Count == 2, why);
        Assert.Equal(first, _frames[0][VirtioNetHeader.Size..]);
        Assert.Equal(second, _frames[1][VirtioNetHeader.Size..]);
        Assert.All(_frames, frame => Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(frame)));
    }

    [Fact]
    public void Flush_UdpAfterAShorterDatagram_AndBeyondTheSegmentLimit_StartsANewSuperPacket()
    {
        var coalescer = new WriteCoalescer(new RecordingWriter(_frames), udp: true);
        int count = WriteCoalescer.MaxUdpSegments + 3;
        var sent = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            // 100-byte datagrams; the one after the limit is 40 bytes, so the one after it cannot join either.
            int size = i == WriteCoalescer.MaxUdpSegments + 1 ? 40 : 100;
            byte[] datagram = OffloadPackets.Udp(false, OffloadPackets.Payload(i * 100, size), id: (ushort)i);
            sent.Add(datagram);
            coalescer.Enqueue(datagram);
        }

        coalescer.Flush();

        // 64 | 65th + the short one | the last one alone.
        Assert.Equal(3, _frames.Count);
        var received = _frames.SelectMany(frame => VirtioNetHeader.Read(frame).GsoType == VirtioNetHeader.GsoNone
            ? [frame[VirtioNetHeader.Size..]]
            : OffloadPackets.Split(frame)).ToList();
        Assert.Equal(sent, received);
    }

    [Fact]
    public void Flush_NothingQueued_WritesNothing()
    {
        Assert.True(_coalescer.Flush());
        Assert.Empty(_frames);
    }

    [Fact]
    public void Enqueue_ManyPacketsWithoutFlush_FlushesWhenFull()
    {
        for (int i = 0; i < WriteCoalescer.MaxItems + 1; i++)
        {
            _coalescer.Enqueue(OffloadPackets.Udp(false, OffloadPackets.Payload(i, 10)));
        }

        Assert.Equal(WriteCoalescer.MaxItems, _frames.Count);
        Assert.Equal(1, _coalescer.Pending);
    }

    private static byte[] Corrupt(byte[] packet)
    {
        packet[^1] ^= 0xFF;
        return packet;
    }

    private static byte[] WithoutUdpChecksum(byte[] packet)
    {
        packet[26] = 0;
        packet[27] = 0;
        return packet;
    }

    private static byte[] WithTtl(byte[] packet, byte ttl)
    {
        packet[8] = ttl;
        IPv4Header.UpdateChecksum(packet);
        return packet;
    }

    private sealed class RecordingWriter(List<byte[]> frames) : ITunFrameWriter
    {
        public bool WriteFrame(ReadOnlySpan<byte> frame)
        {
            frames.Add(frame.ToArray());
            return true;
        }
    }
}
