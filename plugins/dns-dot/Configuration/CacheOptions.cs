namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>The answer cache (key <c>dns-dot.cache</c>; a record: a reload keeps the cache when these are unchanged).</summary>
internal sealed record CacheOptions
{
    /// <summary>Whether answers are cached. Defaults to true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Maximum number of cached answers. Defaults to 10,000.</summary>
    public int MaxEntries { get; set; } = 10_000;

    /// <summary>
    /// Most bytes the cached answers may take (their messages plus per-entry bookkeeping), besides
    /// <see cref="MaxEntries"/>: answers can be up to 64 KiB each, so a count alone does not bound memory.
    /// Defaults to 33,554,432 (32 MiB).
    /// </summary>
    public long MaxBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Upper bound on any cached TTL, in seconds. Defaults to 86,400 (one day).</summary>
    public int MaxTtl { get; set; } = 86_400;

    /// <summary>How long negative answers (RFC 2308) are kept at most, in seconds. Defaults to 3,600.</summary>
    public int MaxNegativeTtl { get; set; } = 3_600;

    /// <summary>
    /// How long past expiry an answer may still be served when no upstream answers (RFC 8767 serve-stale),
    /// in seconds. 0 disables serve-stale. Defaults to 86,400 (RFC 8767 §5 suggests 1 to 3 days).
    /// </summary>
    public int MaxStaleAge { get; set; } = 86_400;

    /// <summary>
    /// Popular answers (at least this many hits) are refreshed in the background when less than 10% of
    /// their TTL remains. 0 disables prefetch. Defaults to 3.
    /// </summary>
    public int PrefetchHits { get; set; } = 3;
}
