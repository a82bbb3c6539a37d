namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>A snapshot of the proxy's totals since start, for the admin API.</summary>
internal readonly record struct ProxyTotals(
    long Requests, double RequestsPerSecond, long ActiveConnections, long ActiveTunnels, long CacheHits, long CacheMisses,
    long OriginRequests, long SocksRequests, long AuthFailures);
