using System.Diagnostics;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.DnsDot.Security;

public sealed class ClientRateLimiterTests
{
    private static readonly long Second = Stopwatch.Frequency;

    private static int Allowed(ClientRateLimiter limiter, string client, int queries, long now, bool datagram = true)
    {
        int allowed = 0;
        for (int i = 0; i < queries; i++)
        {
            if (limiter.Take(NetAddress.Parse(client), datagram, now) == AdmissionResult.Allow)
            {
                allowed++;
            }
        }

        return allowed;
    }

    [Fact]
    public void Take_BurstThenRate_HeldToQpsPerSecond()
    {
        var limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 10, Burst = 20 });
        long now = 1000 * Second;
        Assert.Equal(20, Allowed(limiter, "192.0.2.1", 100, now));

        // One second later the bucket has refilled by 10 tokens, no more.
        Assert.Equal(10, Allowed(limiter, "192.0.2.1", 100, now + Second));
        Assert.Equal(5, Allowed(limiter, "192.0.2.1", 100, now + Second + (Second / 2)));
    }

    [Fact]
    public void Take_SameSlash24SharesBucket_OtherNetworkHasItsOwn()
    {
        var limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 5 });
        long now = 50 * Second;
        Assert.Equal(5, Allowed(limiter, "192.0.2.1", 10, now));
        Assert.Equal(0, Allowed(limiter, "192.0.2.200", 10, now));
        Assert.Equal(5, Allowed(limiter, "192.0.3.1", 10, now));
    }

    [Fact]
    public void Take_Ipv6Slash56SharesBucket()
    {
        var limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 5 });
        long now = 50 * Second;
        Assert.Equal(5, Allowed(limiter, "2001:db8:0:100::1", 10, now));
        Assert.Equal(0, Allowed(limiter, "2001:db8:0:1ff::9", 10, now));
        Assert.Equal(5, Allowed(limiter, "2001:db8:0:200::1", 10, now));
    }

    [Theory]
    [InlineData(2, 5)]
    [InlineData(1, 10)]
    [InlineData(0, 0)]
    [InlineData(3, 3)]
    public void Take_OverLimitDatagrams_TruncatedEverySlipthTime(int slip, int truncated)
    {
        var limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 1, Slip = slip });
        long now = 10 * Second;
        Assert.Equal(AdmissionResult.Allow, limiter.Take(NetAddress.Parse("192.0.2.1"), true, now));
        int seen = 0;
        for (int i = 0; i < 10; i++)
        {
            AdmissionResult result = limiter.Take(NetAddress.Parse("192.0.2.1"), true, now);
            Assert.NotEqual(AdmissionResult.Allow, result);
            if (result == AdmissionResult.Truncate)
            {
                seen++;
            }
        }

        Assert.Equal(truncated, seen);
    }

    [Fact]
    public void Take_OverLimitOnConnection_Limited()
    {
        var limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 1 });
        Assert.Equal(AdmissionResult.Allow, limiter.Take(NetAddress.Parse("192.0.2.1"), false, Second));
        Assert.Equal(AdmissionResult.Limited, limiter.Take(NetAddress.Parse("192.0.2.1"), false, Second));
    }

    [Fact]
    public void Take_FloodFromManySources_TableStaysBoundedAndNewNetworksStillServed()
    {
        var limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 2, Ipv4Prefix = 32, MaxClients = 1024 });
        long now = 100 * Second;
        for (uint i = 0; i < 200_000; i++)
        {
            limiter.Take(NetAddress.FromV4(0x0A000000u + i), true, now + i);
        }

        Assert.Equal(1024, limiter.Capacity);

        // A network never seen gets its whole burst even though the table was overrun.
        Assert.Equal(2, Allowed(limiter, "192.0.2.77", 5, now + 300_000));
    }
}
