using System.Text;
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Tests.DnsDot.Rules;

public sealed class NameSuffixMapTests
{
    private static NameSuffixMap<string> Map(params string[] names)
    {
        Dictionary<string, string> dictionary = NameSuffixMap<string>.CreateDictionary();
        foreach (string name in names)
        {
            dictionary[name] = name;
        }

        return new NameSuffixMap<string>(dictionary);
    }

    private static byte[] B(string name) => Encoding.ASCII.GetBytes(name);

    [Theory]
    [InlineData("ads.example.test", "ads.example.test")]
    [InlineData("x.ads.example.test", "ads.example.test")]
    [InlineData("a.b.c.ads.example.test", "ads.example.test")]
    [InlineData("xads.example.test", null)]
    [InlineData("example.test", null)]
    [InlineData("ads.example.testx", null)]
    [InlineData("", null)]
    public void TryMatch_LabelBoundaries_MatchesNameAndSubdomainsOnly(string query, string? expected)
    {
        NameSuffixMap<string> map = Map("ads.example.test");

        bool found = map.TryMatch(B(query), out string? value);

        Assert.Equal(expected is not null, found);
        Assert.Equal(expected, found ? value : null);
    }

    [Fact]
    public void TryMatch_NestedEntries_LongestWins()
    {
        NameSuffixMap<string> map = Map("test", "corp.test", "eu.corp.test");

        Assert.True(map.TryMatch(B("db.eu.corp.test"), out string? eu));
        Assert.True(map.TryMatch(B("db.us.corp.test"), out string? corp));
        Assert.True(map.TryMatch(B("other.test"), out string? root));

        Assert.Equal("eu.corp.test", eu);
        Assert.Equal("corp.test", corp);
        Assert.Equal("test", root);
    }

    [Fact]
    public void TryMatch_EscapedDotInLabel_IsNotABoundary()
    {
        NameSuffixMap<string> map = Map("b.test");

        Assert.False(map.TryMatch(B(@"a\.b.test"), out _));
        Assert.True(map.TryMatch(B(@"a\.x.b.test"), out _));
    }

    [Fact]
    public void TryMatchExact_Subdomain_NotMatched()
    {
        NameSuffixMap<string> map = Map("local.test");

        Assert.True(map.TryMatchExact(B("local.test"), out _));
        Assert.False(map.TryMatchExact(B("x.local.test"), out _));
        Assert.False(map.TryMatchExact(B("test"), out _));
    }

    [Fact]
    public void TryMatch_HundredThousandNames_EveryNameFoundAndMissesMiss()
    {
        string[] names = new string[100_000];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = $"host{i}.blocked{i % 97}.test";
        }

        NameSuffixMap<string> map = Map(names);

        Assert.Equal(100_000, map.Count);
        for (int i = 0; i < names.Length; i += 7)
        {
            Assert.True(map.TryMatch(B("www." + names[i]), out string? value));
            Assert.Equal(names[i], value);
        }

        Assert.False(map.TryMatch(B("host100000.blocked0.test"), out _));
        Assert.False(map.TryMatch(B("www.example.com"), out _));
    }

    [Fact]
    public void TryMatch_EmptyMap_NoMatch()
    {
        NameSuffixMap<string> map = Map();

        Assert.False(map.TryMatch(B("a.test"), out _));
        Assert.False(map.TryMatchExact(B("a.test"), out _));
    }
}
