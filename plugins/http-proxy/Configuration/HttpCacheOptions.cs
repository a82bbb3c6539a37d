namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>
/// The shared HTTP cache of the proxy (<c>http-proxy: cache:</c>, RFC 9111). Read by
/// <see cref="HttpProxyOptionsReader"/>; an immutable snapshot once read.
/// </summary>
internal sealed class HttpCacheOptions
{
    /// <summary>Whether responses are stored and served from memory (<c>enabled</c>). Defaults to true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// Most bytes held by stored responses (heads and bodies) together (<c>maxBytes</c>); the least recently
    /// used are evicted beyond it. Responses being filled are counted against the same budget, so the cache
    /// never holds more than this. Defaults to 67108864 (64 MiB).
    /// </summary>
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Largest response body stored, in bytes (<c>maxObjectBytes</c>); larger ones are streamed to the client
    /// and not stored. Defaults to 4194304 (4 MiB).
    /// </summary>
    public long MaxObjectBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>Most responses stored at once (<c>maxEntries</c>); the least recently used are evicted beyond it. Defaults to 16384.</summary>
    public int MaxEntries { get; init; } = 16_384;

    /// <summary>
    /// Upper bound of heuristic freshness (<c>heuristicMaxAge</c>, seconds or a number with s/m/h/d): a response
    /// without explicit freshness but with Last-Modified is fresh for 10 % of (Date − Last-Modified), at most
    /// this long (RFC 9111 §4.2.2). Defaults to 1 hour.
    /// </summary>
    public TimeSpan HeuristicMaxAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Whether identical concurrent misses wait for one origin fetch (<c>collapsedForwarding</c>, squid's
    /// collapsed_forwarding): while a GET for a URL is being fetched to be stored, further GET and HEAD requests for
    /// the same URL wait for it and are answered from the stored response instead of each asking the origin. A
    /// response that cannot be stored (no-store, private, a 5xx, too large, a Vary the waiter does not match)
    /// releases the waiters at once, each then going to the origin itself. Defaults to true.
    /// </summary>
    public bool CollapsedForwarding { get; init; } = true;

    /// <summary>
    /// Longest a request waits for another request's fetch of the same URL (<c>collapsedWaitMs</c>, milliseconds,
    /// 1–600000) before it goes to the origin alone. The wait covers the whole response (a waiter is answered once
    /// the body is stored), so a slow or large response can outlast it. Defaults to 5000 ms: several round trips to
    /// a distant origin, and short enough that a stuck fetch costs a waiter little.
    /// </summary>
    public TimeSpan CollapsedWait { get; init; } = TimeSpan.FromSeconds(5);
}
