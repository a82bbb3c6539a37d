using Gateway.Sdk.Packets;

namespace Gateway.Tests.Sdk;

public sealed class InternetChecksumTests
{
    [Fact]
    public void Compute_Rfc1071Section3Example_Matches()
    {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2, so the checksum is ~0xddf2 = 0x220d.
        byte[] data = Convert.FromHexString("0001f203f4f5f6f7");
        Assert.Equal(0xddf2, InternetChecksum.Fold(InternetChecksum.Add(0, data)));
        Assert.Equal(0x220d, InternetChecksum.Compute(data));
    }

    [Fact]
    public void Compute_WellKnownIPv4Header_GivesB861()
    {
        // The classic example header 192.168.0.1 → 192.168.0.199 (checksum field zeroed): 0xb861.
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xb861, InternetChecksum.Compute(header));
    }

    [Theory]
    [InlineData(PacketVectors.V4Udp)]
    [InlineData(PacketVectors.V4Syn)]
    [InlineData(PacketVectors.V4Ping)]
    public void IsChecksumValid_KnownIPv4Headers_True(string hex)
    {
        byte[] packet = PacketVectors.Bytes(hex);
        Assert.True(IPv4Header.IsChecksumValid(packet));
        ushort stored = IPv4Header.Checksum(packet);
        IPv4Header.UpdateChecksum(packet);
        Assert.Equal(stored, IPv4Header.Checksum(packet));
    }

    [Fact]
    public void UdpChecksum_KnownV4AndV6Datagrams_MatchPython()
    {
        byte[] v4 = PacketVectors.Bytes(PacketVectors.V4Udp);
        Span<byte> udp4 = v4.AsSpan(20);
        ulong pseudo4 = InternetChecksum.PseudoHeaderV4(v4, IpProtocol.Udp, udp4.Length);
        Assert.True(UdpHeader.IsChecksumValid(udp4, pseudo4, zeroAllowed: true));
        UdpHeader.UpdateChecksum(udp4, pseudo4);
        Assert.Equal(0xa0f5, UdpHeader.Checksum(udp4));

        byte[] v6 = PacketVectors.Bytes(PacketVectors.V6Udp);
        Span<byte> udp6 = v6.AsSpan(40);
        ulong pseudo6 = InternetChecksum.PseudoHeaderV6(v6.AsSpan(8), v6.AsSpan(24), IpProtocol.Udp, udp6.Length);
        Assert.True(UdpHeader.IsChecksumValid(udp6, pseudo6, zeroAllowed: false));
        UdpHeader.UpdateChecksum(udp6, pseudo6);
        Assert.Equal(0xbad5, UdpHeader.Checksum(udp6));
    }

    [Fact]
    public void TcpChecksum_KnownV4SynAndV6Segment_MatchPython()
    {
        byte[] v4 = PacketVectors.Bytes(PacketVectors.V4Syn);
        Span<byte> tcp4 = v4.AsSpan(20);
        ulong pseudo4 = InternetChecksum.PseudoHeaderV4(v4, IpProtocol.Tcp, tcp4.Length);
        Assert.True(TcpHeader.IsChecksumValid(tcp4, pseudo4));
        TcpHeader.UpdateChecksum(tcp4, pseudo4);
        Assert.Equal(0x518e, TcpHeader.Checksum(tcp4));

        byte[] v6 = PacketVectors.Bytes(PacketVectors.V6Tcp);
        Span<byte> tcp6 = v6.AsSpan(40);
        ulong pseudo6 = InternetChecksum.PseudoHeaderV6(v6.AsSpan(8), v6.AsSpan(24), IpProtocol.Tcp, tcp6.Length);
        Assert.True(TcpHeader.IsChecksumValid(tcp6, pseudo6));
        TcpHeader.UpdateChecksum(tcp6, pseudo6);
        Assert.Equal(0x2cce, TcpHeader.Checksum(tcp6));
    }

    [Fact]
    public void IcmpChecksum_KnownEchoRequests_MatchPython()
    {
        byte[] v4 = PacketVectors.Bytes(PacketVectors.V4Ping);
        Assert.True(IcmpHeader.IsChecksumValid(v4.AsSpan(20)));
        Assert.Equal(0x26f8, IcmpHeader.Checksum(v4.AsSpan(20)));

        byte[] v6 = PacketVectors.Bytes(PacketVectors.V6Ping);
        ulong pseudo6 = InternetChecksum.PseudoHeaderV6(v6.AsSpan(8), v6.AsSpan(24), IpProtocol.IcmpV6, v6.Length - 40);
        Assert.True(IcmpHeader.IsChecksumValid(v6.AsSpan(40), pseudo6));
    }

    [Fact]
    public void Update_RewriteAddressAndPort_EqualsFullRecompute()
    {
        // RFC 1624: rewriting the source address and port incrementally must give the same checksums as
        // recomputing them from scratch.
        byte[] packet = PacketVectors.Bytes(PacketVectors.V4Syn);
        Span<byte> tcp = packet.AsSpan(20);
        uint oldSource = IPv4Header.Source(packet);
        uint newSource = 0xC0A80A0B;
        IPv4Header.SetSource(packet, newSource);
        TcpHeader.AdjustChecksum(tcp, oldSource, newSource);
        TcpHeader.SetSourcePort(tcp, 61000);

        Assert.True(IPv4Header.IsChecksumValid(packet));
        Assert.True(TcpHeader.IsChecksumValid(tcp, InternetChecksum.PseudoHeaderV4(packet, IpProtocol.Tcp, tcp.Length)));
        ushort incremental = TcpHeader.Checksum(tcp);
        TcpHeader.UpdateChecksum(tcp, InternetChecksum.PseudoHeaderV4(packet, IpProtocol.Tcp, tcp.Length));
        Assert.Equal(TcpHeader.Checksum(tcp), incremental);
    }

    [Fact]
    public void Update_IPv6AddressBytes_EqualsFullRecompute()
    {
        byte[] packet = PacketVectors.Bytes(PacketVectors.V6Tcp);
        Span<byte> tcp = packet.AsSpan(40);
        byte[] old = packet.AsSpan(8, 32).ToArray();
        Convert.FromHexString("fd300000000000000000000000000030fd300000000000000000000000000001").CopyTo(packet.AsSpan(8));
        TcpHeader.AdjustChecksum(tcp, old, packet.AsSpan(8, 32));
        Assert.True(TcpHeader.IsChecksumValid(tcp, InternetChecksum.PseudoHeaderV6(packet.AsSpan(8), packet.AsSpan(24), IpProtocol.Tcp, tcp.Length)));
    }

    [Fact]
    public void Update_Rfc1624Section4Example_GivesCorrectResult()
    {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 → m' = 0x3285 gives HC' = 0x0000 (eqn. 3), not 0xFFFF.
        Assert.Equal(0x0000, InternetChecksum.Update(0xDD2F, (ushort)0x5555, (ushort)0x3285));
    }

    [Fact]
    public void Add_RandomSpansOfEveryLengthAndAlignment_EqualsWordByWordSum()
    {
        var random = new Random(1071);
        byte[] data = new byte[1600];
        random.NextBytes(data);
        for (int length = 0; length <= 300; length++)
        {
            for (int offset = 0; offset < 4; offset++)
            {
                ReadOnlySpan<byte> span = data.AsSpan(offset, length);
                Assert.Equal(ReferenceSum(span), InternetChecksum.Fold(InternetChecksum.Add(0, span)));
            }
        }

        Assert.Equal(ReferenceSum(data), InternetChecksum.Fold(InternetChecksum.Add(0, data)));
        byte[] ones = new byte[1500];
        Array.Fill(ones, (byte)0xFF);
        Assert.Equal(ReferenceSum(ones), InternetChecksum.Fold(InternetChecksum.Add(0, ones)));
    }

    /// <summary>RFC 1071 §4.1 as written: big-endian 16-bit words, end-around carry after each addition.</summary>
    private static ushort ReferenceSum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i < data.Length; i += 2)
        {
            uint word = (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
            sum += word;
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)sum;
    }
}
