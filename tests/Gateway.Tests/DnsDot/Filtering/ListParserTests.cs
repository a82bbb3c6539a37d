using System.Text;
using Gateway.Plugins.DnsDot.Lists;

namespace Gateway.Tests.DnsDot.Filtering;

public sealed class ListParserTests
{
    private static (ListMatcher Matcher, int Skipped) Parse(ListFormat format, string text, bool allowList = false)
    {
        var parser = new ListParser(format, allowList);
        parser.Read(new StringReader(text));
        return (parser.Build(), parser.Skipped);
    }

    private static ListMatch Match(ListMatcher matcher, string name) => matcher.Match(Encoding.ASCII.GetBytes(name));

    [Fact]
    public void Hosts_ExactNamesOnly_NoiseAndJunkSkipped()
    {
        (ListMatcher matcher, int skipped) = Parse(ListFormat.Hosts, """
            # a comment
            127.0.0.1 localhost
            0.0.0.0 0.0.0.0
            0.0.0.0 ads.example.test tracker.example.test # two names
            ::1 six.example.test
            just-a-name.example.test
            0.0.0.0 bad_name!.test
            """);
        Assert.Equal(ListMatch.Block, Match(matcher, "ads.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "tracker.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "six.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "x.ads.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "localhost"));
        Assert.Equal(3, matcher.Count);
        Assert.Equal(3, skipped);
    }

    [Fact]
    public void Domains_NameAndSubdomains_StarMeansSubdomainsOnly()
    {
        (ListMatcher matcher, int skipped) = Parse(ListFormat.Domains, """
            ads.example.test
            *.wild.example.test
            # comment
            Tracker.Example.Test.
            0.0.0.0 hosts-line.test
            """);
        Assert.Equal(ListMatch.Block, Match(matcher, "ads.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "x.ads.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "xads.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "wild.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "a.wild.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "tracker.example.test"));
        Assert.Equal(1, skipped);
    }

    [Fact]
    public void Adblock_DnsSubset_UnderstoodOrCountedNeverGuessed()
    {
        (ListMatcher matcher, int skipped) = Parse(ListFormat.Adblock, """
            [Adblock Plus 2.0]
            ! Title: test
            ||ads.example.test^
            @@||good.ads.example.test^
            |exact.example.test^
            ||*.below.example.test^
            ||ad*.glob.example.test^
            ||modifier.example.test^$important
            example.test##.banner
            ||path.example.test/ads.js
            plainword
            /regex.*/
            ||noseparator.example.test
            """);
        Assert.Equal(ListMatch.Block, Match(matcher, "ads.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "x.ads.example.test"));
        Assert.Equal(ListMatch.Allow, Match(matcher, "good.ads.example.test"));
        Assert.Equal(ListMatch.Allow, Match(matcher, "x.good.ads.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "exact.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "x.exact.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "below.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "a.below.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "ads1.glob.example.test"));
        Assert.Equal(ListMatch.Block, Match(matcher, "x.adserver.glob.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "bad.glob.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "modifier.example.test"));
        Assert.Equal(ListMatch.None, Match(matcher, "path.example.test"));
        Assert.Equal(6, skipped);
    }

    [Fact]
    public void AllowList_EveryEntryAllows()
    {
        (ListMatcher matcher, _) = Parse(ListFormat.Domains, "ok.example.test\n", allowList: true);
        Assert.Equal(ListMatch.Allow, Match(matcher, "www.ok.example.test"));
    }

    [Fact]
    public void Matcher_ExactEntryBelowSubtreeEntry_BothApply()
    {
        // A hosts-style exact entry must not hide a shorter subtree entry: every matching suffix is consulted.
        (ListMatcher matcher, _) = Parse(ListFormat.Adblock, "||example.test^\n|a.example.test^\n");
        Assert.Equal(ListMatch.Block, Match(matcher, "x.a.example.test"));
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    [InlineData("24h", 86400)]
    [InlineData("7d", 604800)]
    public void Durations_UnitSuffixes_Seconds(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out TimeSpan duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("24")]
    [InlineData("1.5h")]
    [InlineData("-1h")]
    [InlineData("5w")]
    public void Durations_Malformed_Refused(string text) => Assert.False(Durations.TryParse(text, out _));
}
