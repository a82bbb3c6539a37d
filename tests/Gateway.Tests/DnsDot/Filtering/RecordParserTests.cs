using Gateway.Plugins.DnsDot.Records;

namespace Gateway.Tests.DnsDot.Filtering;

public sealed class RecordParserTests
{
    [Theory]
    [InlineData("nas.home.test 300 A 192.168.1.10", 1, 300u)]
    [InlineData("nas.home.test. IN 300 A 192.168.1.10", 1, 300u)]
    [InlineData("nas.home.test 300 IN A 192.168.1.10", 1, 300u)]
    [InlineData("nas.home.test A 192.168.1.10", 1, 3600u)]
    [InlineData("nas.home.test AAAA fd00::10", 28, 3600u)]
    [InlineData("files.home.test CNAME nas.home.test", 5, 3600u)]
    [InlineData("10.1.168.192.in-addr.arpa PTR nas.home.test.", 12, 3600u)]
    [InlineData("home.test 60 MX 10 mail.home.test", 15, 60u)]
    [InlineData("_http._tcp.home.test SRV 0 5 80 nas.home.test", 33, 3600u)]
    [InlineData("home.test TXT \"v=spf1 -all\" \"second\"", 16, 3600u)]
    public void TryParse_UnboundLocalDataForms_TypeAndTtl(string text, int type, uint ttl)
    {
        LocalRecord? record = RecordParser.TryParse(text, out string? problem, out _);
        Assert.True(record is not null, problem);
        Assert.Equal((ushort)type, record.Type);
        Assert.Equal(ttl, record.Ttl);
    }

    [Fact]
    public void TryParse_Txt_EncodesCharacterStrings()
    {
        LocalRecord record = RecordParser.TryParse("home.test TXT \"v=spf1 -all\" \"x\\\"y\"", out _, out _)!;
        Assert.Equal([11, .. "v=spf1 -all"u8.ToArray(), 3, (byte)'x', (byte)'"', (byte)'y'], record.Rdata);
    }

    [Fact]
    public void TryParse_Wildcard_OwnerIsTheParent()
    {
        LocalRecord record = RecordParser.TryParse("*.dev.home.test A 192.168.1.20", out _, out _)!;
        Assert.True(record.IsWildcard);
        Assert.Equal("dev.home.test", record.Owner);
    }

    [Theory]
    [InlineData("nas.home.test 300 A 999.1.1.1", 21, "IPv4")]
    [InlineData("nas.home.test 300 A fd00::1", 21, "IPv4")]
    [InlineData("nas.home.test 300 HINFO a b", 19, "not supported")]
    [InlineData("nas..home.test A 10.0.0.1", 1, "empty label")]
    [InlineData("a.*.home.test A 10.0.0.1", 1, "leftmost")]
    [InlineData("home.test TXT \"open", 15, "not closed")]
    [InlineData("_s._tcp.home.test SRV 0 5 http nas.home.test", 27, "port")]
    [InlineData("nas.home.test", 1, "expected")]
    [InlineData("nas.home.test 300 CH A 10.0.0.1", 19, "class IN")]
    [InlineData("nas.home.test 300", 15, "expected")]
    public void TryParse_Malformed_ProblemAndColumn(string text, int column, string fragment)
    {
        Assert.Null(RecordParser.TryParse(text, out string? problem, out int at));
        Assert.Contains(fragment, problem);
        Assert.Equal(column, at);
    }
}
