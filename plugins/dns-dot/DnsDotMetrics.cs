using System.Diagnostics.Metrics;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Telemetry;

namespace Gateway.Plugins.DnsDot;

/// <summary>
/// The plugin's instruments on the host-provided meter. Names are dotted (docs/operations.md); the ones with a
/// dotproxy counterpart carry dotproxy's statsd name as an instrument tag (<see cref="InstrumentTags.Statsd"/>), so
/// statsd gets dotproxy's names (event.upstream.cx_open, latency.proxy.tx_upstream, …; github.com/LINKIWI/dotproxy
/// internal/metrics/hook.go) while Prometheus gets dns_upstream_connections_opened_total,
/// dns_upstream_duration_seconds, …. The plugin owns these names; the host knows none of them.
/// </summary>
/// <remarks>
/// Per-query figures that only change by ±1 (in flight, connection reuses) are observable instruments over
/// plain fields, so the query path pays one interlocked add instead of a measurement callback.
/// </remarks>
internal sealed class DnsDotMetrics
{
    private readonly List<DnsUpstream> _upstreams = new();
    private DnsCache? _cache;

    /// <summary>Creates the instruments.</summary>
    public DnsDotMetrics(Meter meter)
    {
        Queries = meter.CreateCounter<long>("dns.queries", "{query}", "Client queries answered, by transport (udp, tcp) and rcode");
        Dropped = meter.CreateCounter<long>("dns.queries.dropped", "{query}", "Client messages dropped unanswered (not a query, or rules said Drop)");
        RequestDuration = meter.CreateHistogram<double>("dns.request.duration", "s", "Time from a client query's arrival to its answer (dotproxy latency.proxy.tx_rtt)", InstrumentTags.Statsd("latency.proxy.tx_rtt"));
        RequestSize = meter.CreateHistogram<int>("dns.request.size", "By", "Client query size (dotproxy size.proxy.request)", InstrumentTags.Statsd("size.proxy.request"));
        ResponseSize = meter.CreateHistogram<int>("dns.response.size", "By", "Answer size sent to the client (dotproxy size.proxy.response)", InstrumentTags.Statsd("size.proxy.response"));
        UpstreamDuration = meter.CreateHistogram<double>("dns.upstream.duration", "s", "Time from sending a query upstream to its answer, per upstream (dotproxy latency.proxy.tx_upstream)", InstrumentTags.Statsd("latency.proxy.tx_upstream"));
        UpstreamConnectionsOpened = meter.CreateCounter<long>("dns.upstream.connections.opened", "{connection}", "Upstream TLS connections opened (dotproxy event.upstream.cx_open)", InstrumentTags.Statsd("event.upstream.cx_open"));
        UpstreamConnectionsClosed = meter.CreateCounter<long>("dns.upstream.connections.closed", "{connection}", "Upstream TLS connections closed (dotproxy event.upstream.cx_close)", InstrumentTags.Statsd("event.upstream.cx_close"));
        UpstreamConnectionErrors = meter.CreateCounter<long>("dns.upstream.connection_errors", "{error}", "Upstream connects or TLS handshakes that failed (dotproxy event.upstream.cx_error)", InstrumentTags.Statsd("event.upstream.cx_error"));
        UpstreamReadErrors = meter.CreateCounter<long>("dns.upstream.read_errors", "{error}", "Queries that got no answer from an upstream in time or whose connection broke (dotproxy event.upstream.read_error)", InstrumentTags.Statsd("event.upstream.read_error"));
        UpstreamWriteErrors = meter.CreateCounter<long>("dns.upstream.write_errors", "{error}", "Writes to an upstream connection that failed (dotproxy event.upstream.write_error)", InstrumentTags.Statsd("event.upstream.write_error"));
        UpstreamRetries = meter.CreateCounter<long>("dns.upstream.retries", "{query}", "Queries retried on a fresh connection (dotproxy event.upstream.io_retry)", InstrumentTags.Statsd("event.upstream.io_retry"));
        UpstreamConnectionsResumed = meter.CreateCounter<long>("dns.upstream.connections.resumed", "{connection}", "Upstream handshakes after the first, which may resume the TLS session");
        UnmatchedResponses = meter.CreateCounter<long>("dns.upstream.unmatched_responses", "{message}", "Upstream messages matching no query in flight (id, name, type)");
        meter.CreateObservableCounter("dns.upstream.connections.reused", ObserveReuses, "{query}", "Queries sent on an already open upstream connection");
        meter.CreateObservableUpDownCounter("dns.upstream.in_flight", ObserveInFlight, "{query}", "Queries sent upstream and not yet answered");
        ClientConnectionsOpened = meter.CreateCounter<long>("dns.client.connections.opened", "{connection}", "Client TCP connections accepted (dotproxy event.client.cx_open)", InstrumentTags.Statsd("event.client.cx_open"));
        ClientConnectionsClosed = meter.CreateCounter<long>("dns.client.connections.closed", "{connection}", "Client TCP connections ended (dotproxy event.client.cx_close)", InstrumentTags.Statsd("event.client.cx_close"));
        ClientReadErrors = meter.CreateCounter<long>("dns.client.read_errors", "{error}", "Client TCP connections that ended with a read error or idle timeout (dotproxy event.client.read_error)", InstrumentTags.Statsd("event.client.read_error"));
        ClientWriteErrors = meter.CreateCounter<long>("dns.client.write_errors", "{error}", "Answers that could not be sent to the client (dotproxy event.client.write_error)", InstrumentTags.Statsd("event.client.write_error"));
        CacheHits = meter.CreateCounter<long>("dns.cache.hits", "{query}", "Answers served from the cache");
        CacheMisses = meter.CreateCounter<long>("dns.cache.misses", "{query}", "Cache lookups that found nothing fresh");
        CacheStale = meter.CreateCounter<long>("dns.cache.stale", "{query}", "Expired answers served because no upstream answered (RFC 8767)");
        meter.CreateObservableGauge("dns.cache.entries", () => Volatile.Read(ref _cache)?.Count ?? 0, "{entry}", "Answers held in the cache");
        meter.CreateObservableGauge("dns.cache.size", () => Volatile.Read(ref _cache)?.Bytes ?? 0, "By", "Bytes the cached answers take (bounded by cache.maxBytes)");
        Serving = new ServingMetrics(meter);
    }

    /// <summary>The instruments of client admission and the listeners (ACL, rate limits, connection caps).</summary>
    public ServingMetrics Serving { get; }

    /// <summary>dns.queries{transport, rcode}.</summary>
    public Counter<long> Queries { get; }

    /// <summary>dns.queries.dropped.</summary>
    public Counter<long> Dropped { get; }

    /// <summary>dns.request.duration, seconds.</summary>
    public Histogram<double> RequestDuration { get; }

    /// <summary>dns.request.size, bytes.</summary>
    public Histogram<int> RequestSize { get; }

    /// <summary>dns.response.size, bytes.</summary>
    public Histogram<int> ResponseSize { get; }

    /// <summary>dns.upstream.duration{upstream}, seconds.</summary>
    public Histogram<double> UpstreamDuration { get; }

    /// <summary>dns.upstream.connections.opened{upstream}.</summary>
    public Counter<long> UpstreamConnectionsOpened { get; }

    /// <summary>dns.upstream.connections.closed{upstream}.</summary>
    public Counter<long> UpstreamConnectionsClosed { get; }

    /// <summary>dns.upstream.connection_errors{upstream}.</summary>
    public Counter<long> UpstreamConnectionErrors { get; }

    /// <summary>dns.upstream.read_errors{upstream}.</summary>
    public Counter<long> UpstreamReadErrors { get; }

    /// <summary>dns.upstream.write_errors{upstream}.</summary>
    public Counter<long> UpstreamWriteErrors { get; }

    /// <summary>dns.upstream.retries.</summary>
    public Counter<long> UpstreamRetries { get; }

    /// <summary>dns.upstream.connections.resumed{upstream}.</summary>
    public Counter<long> UpstreamConnectionsResumed { get; }

    /// <summary>dns.upstream.unmatched_responses{upstream}.</summary>
    public Counter<long> UnmatchedResponses { get; }

    /// <summary>dns.client.connections.opened.</summary>
    public Counter<long> ClientConnectionsOpened { get; }

    /// <summary>dns.client.connections.closed.</summary>
    public Counter<long> ClientConnectionsClosed { get; }

    /// <summary>dns.client.read_errors.</summary>
    public Counter<long> ClientReadErrors { get; }

    /// <summary>dns.client.write_errors.</summary>
    public Counter<long> ClientWriteErrors { get; }

    /// <summary>dns.cache.hits.</summary>
    public Counter<long> CacheHits { get; }

    /// <summary>dns.cache.misses.</summary>
    public Counter<long> CacheMisses { get; }

    /// <summary>dns.cache.stale.</summary>
    public Counter<long> CacheStale { get; }

    /// <summary>Adds an upstream to the observable per-upstream instruments.</summary>
    public void Register(DnsUpstream upstream)
    {
        lock (_upstreams)
        {
            _upstreams.Add(upstream);
        }
    }

    /// <summary>Sets the cache dns.cache.entries reads (null: disabled, 0 entries).</summary>
    public void ObserveCache(DnsCache? cache) => Volatile.Write(ref _cache, cache);

    /// <summary>Removes an upstream a reload retired from the per-upstream instruments.</summary>
    public void Unregister(DnsUpstream upstream)
    {
        lock (_upstreams)
        {
            _upstreams.Remove(upstream);
        }
    }

    private IEnumerable<Measurement<long>> ObserveReuses()
    {
        lock (_upstreams)
        {
            var measurements = new Measurement<long>[_upstreams.Count];
            for (int i = 0; i < measurements.Length; i++)
            {
                measurements[i] = new Measurement<long>(_upstreams[i].Reuses, _upstreams[i].Tag);
            }

            return measurements;
        }
    }

    private IEnumerable<Measurement<long>> ObserveInFlight()
    {
        lock (_upstreams)
        {
            var measurements = new Measurement<long>[_upstreams.Count];
            for (int i = 0; i < measurements.Length; i++)
            {
                measurements[i] = new Measurement<long>(_upstreams[i].Outstanding, _upstreams[i].Tag);
            }

            return measurements;
        }
    }
}
