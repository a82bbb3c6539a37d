using System.Diagnostics.Metrics;

namespace Gateway.Plugins.DnsDot;

/// <summary>The plugin's instruments on the host-provided meter (dotproxy's names where it has them).</summary>
internal sealed class DnsDotMetrics
{
    /// <summary>Creates the instruments.</summary>
    public DnsDotMetrics(Meter meter)
    {
        Queries = meter.CreateCounter<long>("dns_queries", "{query}", "Client queries answered, by transport and rcode");
        Dropped = meter.CreateCounter<long>("dns_dropped", "{query}", "Client messages dropped unanswered (not a query, or rules said Drop)");
        UpstreamLatency = meter.CreateHistogram<double>("upstream_latency", "ms", "Time from sending a query upstream to its answer, per upstream");
        UpstreamErrors = meter.CreateCounter<long>("upstream_errors", "{error}", "Upstream failures (connect, TLS, timeout), per upstream");
        ConnectionOpens = meter.CreateCounter<long>("upstream_connection_opens", "{connection}", "Upstream TLS connections opened");
        ConnectionReuses = meter.CreateCounter<long>("upstream_connection_reuses", "{query}", "Queries sent on an already open upstream connection");
        ConnectionResumptions = meter.CreateCounter<long>("upstream_connection_resumptions", "{connection}", "Upstream handshakes that resumed a TLS session (TLS 1.3 handshakes after the first)");
        InFlight = meter.CreateUpDownCounter<long>("upstream_in_flight", "{query}", "Queries sent upstream and not yet answered");
        CacheHits = meter.CreateCounter<long>("cache_hits", "{query}", "Answers served from the cache");
        CacheMisses = meter.CreateCounter<long>("cache_misses", "{query}", "Cache lookups that found nothing fresh");
        CacheStale = meter.CreateCounter<long>("cache_stale", "{query}", "Expired answers served because no upstream answered (RFC 8767)");
        UnmatchedResponses = meter.CreateCounter<long>("upstream_unmatched_responses", "{message}", "Upstream messages matching no query in flight (id, name, type)");
    }

    /// <summary>dns_queries{transport, rcode}.</summary>
    public Counter<long> Queries { get; }

    /// <summary>dns_dropped.</summary>
    public Counter<long> Dropped { get; }

    /// <summary>upstream_latency{upstream}, ms.</summary>
    public Histogram<double> UpstreamLatency { get; }

    /// <summary>upstream_errors{upstream}.</summary>
    public Counter<long> UpstreamErrors { get; }

    /// <summary>upstream_connection_opens{upstream}.</summary>
    public Counter<long> ConnectionOpens { get; }

    /// <summary>upstream_connection_reuses{upstream}.</summary>
    public Counter<long> ConnectionReuses { get; }

    /// <summary>upstream_connection_resumptions{upstream}.</summary>
    public Counter<long> ConnectionResumptions { get; }

    /// <summary>upstream_in_flight.</summary>
    public UpDownCounter<long> InFlight { get; }

    /// <summary>cache_hits.</summary>
    public Counter<long> CacheHits { get; }

    /// <summary>cache_misses.</summary>
    public Counter<long> CacheMisses { get; }

    /// <summary>cache_stale.</summary>
    public Counter<long> CacheStale { get; }

    /// <summary>upstream_unmatched_responses.</summary>
    public Counter<long> UnmatchedResponses { get; }
}
