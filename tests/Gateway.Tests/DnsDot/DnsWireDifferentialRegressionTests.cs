using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Tests.DnsDot;

/// <summary>Disagreements with dnspython the differential tests found (Differential/), each kept as the behaviour it proves.</summary>
public sealed class DnsWireDifferentialRegressionTests
{
    // www.example.test A, one answer, no OPT (as unbound answers a client without EDNS).
    private static readonly byte[] AnswerWithoutOpt = Convert.FromHexString(
        "3EBC8580000100010000000003777777076578616D706C6504746573740000010001C00C000100010000012C0004C0000250");

    [Fact]
    public void TryScanResponse_AnswerWithoutOpt_NoKeepaliveSoThePooledDotConnectionIsNotDrained()
    {
        // RFC 7828 §3.3.2: a timeout of 0 asks the client to close; an answer that offers nothing must not read as 0.
        Assert.True(DnsMessageReader.TryScanResponse(AnswerWithoutOpt, AnswerWithoutOpt.AsSpan(12, 18), 1, Span<int>.Empty, out DnsResponseInfo info));
        Assert.Equal(-1, info.KeepaliveTimeout);
    }

    [Fact]
    public void StripOpt_OptBeforeMoreAdditionalRecords_TheirCompressedNamesStillRight()
    {
        // www.example.test A; additional: OPT, then ns1.www.example.test A, then AAAA whose owner points at the A's.
        byte[] message =
        [
            0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 3,
            3, .. "www"u8, 7, .. "example"u8, 4, .. "test"u8, 0, 0, 1, 0, 1,
            0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 80,
            0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,
            3, .. "ns1"u8, 0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 53,
            0xC0, 61, 0, 28, 0, 1, 0, 0, 1, 0x2C, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
        ];
        Assert.True(DnsMessageReader.TryScanResponse(message, message.AsSpan(12, 18), 1, Span<int>.Empty, out DnsResponseInfo info));

        int length = DnsMessageWriter.StripOpt(message, info);

        Assert.Equal(message.Length - 11, length);
        Span<byte> name = stackalloc byte[255];
        Assert.True(DnsName.TryExpand(message.AsSpan(0, length), 50 + 20, name, out int nameLength, out _));
        Assert.Equal([3, .. "ns1"u8, 3, .. "www"u8, 7, .. "example"u8, 4, .. "test"u8, 0], name[..nameLength].ToArray());
    }

    [Fact]
    public void TryScanResponse_OwnerPointsIntoTheHeader_Refused()
    {
        // The answer's owner is a pointer to offset 1: a "name" made of the id and flags, which FinishAnswer rewrites.
        byte[] message = (byte[])AnswerWithoutOpt.Clone();
        message[35] = 0x01;
        Assert.False(DnsMessageReader.TryScanResponse(message, message.AsSpan(12, 18), 1, Span<int>.Empty, out _));
    }

    [Fact]
    public void TryScanResponse_PointerToANameThatRunsOnPastThePointer_Refused()
    {
        // Two answers; the second's owner points at a 14-byte "label" inside the first answer's RDATA that reads on
        // through the second record itself: no prior occurrence of a name (RFC 1035 §4.1.4). Stripping an OPT behind
        // such a name would cut it.
        byte[] message =
        [
            0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
            3, .. "www"u8, 7, .. "example"u8, 4, .. "test"u8, 0, 0, 2, 0, 1,
            0xC0, 12, 0, 2, 0, 1, 0, 0, 1, 0x2C, 0, 6, 14, .. "ns1"u8, 0xC0, 16,
            0xC0, 46, 0, 1, 0, 1, 0, 0, 1, 0x2C, 0, 4, 192, 0, 2, 53,
        ];
        Assert.False(DnsMessageReader.TryScanResponse(message, message.AsSpan(12, 18), 2, Span<int>.Empty, out _));
        message[46] = 3;
        Assert.True(DnsMessageReader.TryScanResponse(message, message.AsSpan(12, 18), 2, Span<int>.Empty, out _));
    }

    [Fact]
    public void TryScanResponse_TtlWithTopBitSet_CachedForZeroSeconds()
    {
        // RFC 2181 §8: 0x8000012C is not 68 years.
        byte[] message = (byte[])AnswerWithoutOpt.Clone();
        message[^10] = 0x80;
        Assert.True(DnsMessageReader.TryScanResponse(message, message.AsSpan(12, 18), 1, Span<int>.Empty, out DnsResponseInfo info));
        Assert.Equal(0u, info.CacheTtl);
    }

    [Theory]
    [InlineData(0xC218, 24, 3)] // unknown FAMILY
    [InlineData(3, 0, 0)]       // unknown FAMILY, even without an address
    [InlineData(1, 189, 3)]     // SOURCE PREFIX-LENGTH 189 > 32
    [InlineData(1, 24, 4)]      // 4 address octets for a /24
    [InlineData(2, 24, 4)]      // IPv6, /24 in 4 octets
    [InlineData(2, 129, 16)]    // IPv6, /129
    public void TryParseQuery_MalformedClientSubnet_FormErr(int family, int source, int octets)
    {
        // RFC 7871 §7.1.1: an unknown FAMILY or a prefix longer than the address is answered FORMERR.
        Assert.Equal(DnsParseStatus.FormErr, DnsMessageReader.TryParseQuery(QueryWithSubnet(family, source, octets), out _));
    }

    [Theory]
    [InlineData(1, 24, 3)]
    [InlineData(1, 0, 0)]
    [InlineData(1, 32, 4)]
    [InlineData(2, 56, 7)]
    [InlineData(2, 128, 16)]
    public void TryParseQuery_WellFormedClientSubnet_OkWithSubnet(int family, int source, int octets)
    {
        Assert.Equal(DnsParseStatus.Ok, DnsMessageReader.TryParseQuery(QueryWithSubnet(family, source, octets), out DnsRequestInfo info));
        Assert.True(info.HasClientSubnet);
    }

    private static byte[] QueryWithSubnet(int family, int source, int octets)
    {
        byte[] option = [0, 8, 0, (byte)(4 + octets), (byte)(family >> 8), (byte)family, (byte)source, 0, .. new byte[octets]];
        return [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, (byte)'a', 0, 0, 1, 0, 1,
            0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, (byte)option.Length, .. option];
    }
}
