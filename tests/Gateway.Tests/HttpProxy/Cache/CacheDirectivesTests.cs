using System.Text;
using Gateway.Plugins.HttpProxy.Cache;

namespace Gateway.Tests.HttpProxy.Cache;

public sealed class CacheDirectivesTests
{
    private static CacheDirectives Parse(params string[] lines)
    {
        CacheDirectives directives = CacheDirectives.Empty;
        foreach (string line in lines)
        {
            directives.Add(Encoding.ASCII.GetBytes(line));
        }

        return directives;
    }

    [Fact]
    public void Add_ResponseDirectives_AreRead()
    {
        CacheDirectives d = Parse("public, max-age=60, s-maxage=30, must-revalidate, proxy-revalidate");

        Assert.True(d.Present);
        Assert.True(d.Public);
        Assert.Equal(60, d.MaxAge);
        Assert.Equal(30, d.SharedMaxAge);
        Assert.True(d.MustRevalidate);
        Assert.True(d.ProxyRevalidate);
        Assert.False(d.NoStore);
    }

    [Fact]
    public void Add_CaseInsensitiveNamesAndQuotedValue_AreAccepted()
    {
        // RFC 9111 §5.2: directive names are case-insensitive; §1.2.2 senders use the token form, recipients may see quotes.
        CacheDirectives d = Parse("Max-Age=\"120\", NO-STORE");

        Assert.Equal(120, d.MaxAge);
        Assert.True(d.NoStore);
    }

    [Fact]
    public void Add_RepeatedMaxAge_FirstWins()
    {
        // RFC 9111 §4.2.1: with more than one value the first occurrence should be used.
        Assert.Equal(10, Parse("max-age=10", "max-age=99").MaxAge);
    }

    [Fact]
    public void Add_InvalidMaxAge_MeansStale()
    {
        Assert.Equal(0, Parse("max-age=soon").MaxAge);
    }

    [Fact]
    public void Add_HugeDeltaSeconds_IsCappedAt2Pow31()
    {
        // RFC 9111 §1.2.2: a delta-seconds value too large is treated as 2147483648 (we cap at int.MaxValue).
        Assert.Equal(int.MaxValue, Parse("max-age=99999999999999999999").MaxAge);
    }

    [Fact]
    public void Add_QualifiedNoCacheAndPrivate_CountAsUnqualified()
    {
        CacheDirectives d = Parse("no-cache=\"Set-Cookie\", private=\"X-User\"");

        Assert.True(d.NoCache);
        Assert.True(d.Private);
    }

    [Fact]
    public void Add_RequestDirectives_AreRead()
    {
        CacheDirectives d = Parse("max-stale, min-fresh=5, only-if-cached");

        Assert.Equal(int.MaxValue, d.MaxStale);
        Assert.Equal(5, d.MinFresh);
        Assert.True(d.OnlyIfCached);
        Assert.Equal(-1, d.MaxAge);
    }
}
