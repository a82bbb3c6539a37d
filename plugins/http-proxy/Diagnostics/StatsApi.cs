using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Sdk.Api;

namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>GET <c>/api/v1/plugins/http-proxy/stats</c>: the shape fixed in the admin API contract (docs/api.md).</summary>
internal static class StatsApi
{
    public static ApiResponse Answer(HttpProxyMetrics metrics, HttpCache? cache)
    {
        ProxyTotals totals = metrics.Totals();
        long lookups = totals.CacheHits + totals.CacheMisses;
        return ApiResponse.Json(new StatsDocument(
            totals.Requests,
            totals.RequestsPerSecond,
            totals.ActiveConnections,
            totals.ActiveTunnels,
            new CacheDocument(cache is not null, totals.CacheHits, totals.CacheMisses, lookups == 0 ? 0 : Math.Round(totals.CacheHits / (double)lookups, 4),
                cache?.Count ?? 0, cache?.Bytes ?? 0),
            totals.OriginRequests,
            totals.SocksRequests,
            totals.AuthFailures));
    }

    private sealed record StatsDocument(long Requests, double RequestsPerSecond, long ActiveConnections, long ActiveTunnels, CacheDocument Cache,
        long OriginRequests, long SocksRequests, long AuthFailures);

    private sealed record CacheDocument(bool Enabled, long Hits, long Misses, double HitRatio, int Entries, long Bytes);
}
