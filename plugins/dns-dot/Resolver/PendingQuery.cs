using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>What <see cref="DnsResolver.Begin"/> hands to <see cref="DnsResolver.ResolveUpstreamAsync"/>.</summary>
internal struct PendingQuery
{
    /// <summary>The parsed query.</summary>
    public DnsRequestInfo Info;

    /// <summary>The configuration the query started with (its group, cache and options).</summary>
    public ResolverSnapshot Snapshot;

    /// <summary>The group to ask.</summary>
    public UpstreamGroup Group;

    /// <summary>The cache key of the question.</summary>
    public ulong Key;

    /// <summary>An expired entry to serve if no upstream answers (RFC 8767), or null.</summary>
    public CacheEntry? Stale;

    /// <summary>The answer limit in bytes (UDP size, or 65535 for TCP).</summary>
    public int Limit;

    /// <summary>True for a background refresh (prefetch): nobody waits for it, so it is not counted as a client query.</summary>
    public bool Background;

    /// <summary>When <see cref="DnsResolver.Begin"/> started on it (Stopwatch ticks).</summary>
    public long Started;

    /// <summary>When <see cref="DnsResolver.Begin"/> had the answer ready (Stopwatch ticks; 0 when it was not answered at once).</summary>
    public long Finished;

    /// <summary>How the query came in (metrics).</summary>
    public Rules.DnsTransport Transport;

    /// <summary>The client's address (query log, statistics, dnstap).</summary>
    public Gateway.Sdk.Networking.NetAddress Client;

    /// <summary>What decided the answer ("rule:…", "list:…", "record", "cache", "upstream", "blocking-paused"); null until decided.</summary>
    public string? Reason;

    /// <summary>True when the answer is a block.</summary>
    public bool Blocked;

    /// <summary>True when the answer came from the cache.</summary>
    public bool CacheHit;

    /// <summary>The client's <c>clients:</c> group, or null.</summary>
    public string? ClientGroup;

    /// <summary>A local CNAME chain whose last target is asked upstream (then the query's question is the target's).</summary>
    public Records.CnameSplice? Splice;
}
