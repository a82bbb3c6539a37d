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
}
