using System.Diagnostics.Metrics;
using System.Text.Json;
using Gateway.Plugins.HttpProxy.Api;
using Gateway.Plugins.HttpProxy.Diagnostics;

namespace Gateway.Tests.HttpProxy.Api;

public sealed class HttpProxyStatsApiTests
{
    [Fact]
    public void Write_AfterRecordedTraffic_ContractFieldsWithTheMetersCounts()
    {
        using var meter = new Meter("http-proxy-stats-test-" + Guid.NewGuid().ToString("N"));
        var metrics = new HttpProxyMetrics(meter);
        using var stats = new HttpProxyStatsApi(meter, cacheEnabled: true, seconds: () => 1000);
        metrics.ConnectionOpened();
        metrics.ConnectionOpened();
        metrics.ConnectionClosed();
        metrics.TunnelOpened();
        for (int i = 0; i < 6; i++)
        {
            metrics.Request(200);
        }

        metrics.CacheHit(100);
        metrics.CacheHit(100);
        metrics.CacheHit(100);
        metrics.CacheMiss();
        metrics.CacheCollapsed(Gateway.Plugins.HttpProxy.Cache.CollapseOutcome.Stored, hit: true);
        metrics.CacheCollapsed(Gateway.Plugins.HttpProxy.Cache.CollapseOutcome.Released, hit: false);
        metrics.CacheCollapsed(Gateway.Plugins.HttpProxy.Cache.CollapseOutcome.TimedOut, hit: false);
        metrics.OriginConnection(reused: false);

        JsonElement root = JsonDocument.Parse(stats.Write()).RootElement;

        Assert.Equal(6, root.GetProperty("requests").GetInt64());
        Assert.Equal(0.1, root.GetProperty("requestsPerSecond").GetDouble());
        Assert.Equal(1, root.GetProperty("activeConnections").GetInt64());
        Assert.Equal(1, root.GetProperty("activeTunnels").GetInt64());
        JsonElement cache = root.GetProperty("cache");
        Assert.True(cache.GetProperty("enabled").GetBoolean());
        Assert.Equal(3, cache.GetProperty("hits").GetInt64());
        Assert.Equal(1, cache.GetProperty("misses").GetInt64());
        Assert.Equal(0.75, cache.GetProperty("hitRatio").GetDouble());
        Assert.Equal(1, cache.GetProperty("collapsed").GetInt64());
        Assert.Equal(1, root.GetProperty("originRequests").GetInt64());
        Assert.Equal(0, root.GetProperty("socksRequests").GetInt64());
        Assert.Equal(0, root.GetProperty("authFailures").GetInt64());
    }

    [Fact]
    public void Write_RequestsOlderThanAMinute_LeaveTheRateButStayInTheTotal()
    {
        using var meter = new Meter("http-proxy-stats-test-" + Guid.NewGuid().ToString("N"));
        var metrics = new HttpProxyMetrics(meter);
        long now = 5000;
        using var stats = new HttpProxyStatsApi(meter, cacheEnabled: false, seconds: () => now);
        for (int i = 0; i < 30; i++)
        {
            metrics.Request(200);
        }

        now += 59;
        metrics.Request(404);
        Assert.Equal(0.517, JsonDocument.Parse(stats.Write()).RootElement.GetProperty("requestsPerSecond").GetDouble());

        now += 1;
        JsonElement root = JsonDocument.Parse(stats.Write()).RootElement;

        Assert.Equal(31, root.GetProperty("requests").GetInt64());
        Assert.Equal(0.017, root.GetProperty("requestsPerSecond").GetDouble());
        Assert.False(root.GetProperty("cache").GetProperty("enabled").GetBoolean());
        Assert.Equal(0, root.GetProperty("cache").GetProperty("hitRatio").GetDouble());
    }

    [Fact]
    public void Write_OtherMetersInstruments_NotCounted()
    {
        using var meter = new Meter("http-proxy-stats-test-" + Guid.NewGuid().ToString("N"));
        using var other = new Meter("http-proxy-stats-other-" + Guid.NewGuid().ToString("N"));
        using var stats = new HttpProxyStatsApi(meter, cacheEnabled: true);
        new HttpProxyMetrics(other).Request(200);

        Assert.Equal(0, JsonDocument.Parse(stats.Write()).RootElement.GetProperty("requests").GetInt64());
    }
}
