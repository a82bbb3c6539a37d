using System.Diagnostics.Metrics;

namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>The plugin's instruments on its meter (exported by the host as Prometheus and statsd).</summary>
internal sealed class HttpProxyMetrics
{
    // Tag values boxed once, so recording a request allocates nothing.
    private static readonly object[] s_statusBoxes = CreateStatusBoxes();
    private static readonly object s_true = true;
    private static readonly object s_false = false;

    private readonly Counter<long> _requests;
    private readonly Counter<long> _bytesFromClients;
    private readonly Counter<long> _bytesToClients;
    private readonly UpDownCounter<long> _activeTunnels;
    private readonly Counter<long> _upgrades;
    private readonly UpDownCounter<long> _activeConnections;
    private readonly Histogram<double> _originLatency;
    private readonly Counter<long> _originConnections;
    private readonly Meter _meter;
    private readonly Counter<long> _cacheHits;
    private readonly Counter<long> _cacheHitBytes;
    private readonly Counter<long> _cacheMisses;
    private readonly Counter<long> _cacheRevalidations;
    private readonly Counter<long> _cacheStores;
    private readonly Counter<long> _cacheStoredBytes;
    private readonly Counter<long> _cacheEvictions;
    private readonly Counter<long> _cacheEvictedBytes;
    private readonly Counter<long> _cacheInvalidations;
    private readonly Counter<long> _destinationsDenied;
    private readonly Counter<long> _socksRequests;
    private readonly Counter<long> _socksDatagramsDropped;
    private readonly Counter<long> _authSuccesses;
    private long _authFailureCount;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _parentConnections;
    private readonly Counter<long> _parentsUnavailable;
    private static readonly object s_succeeded = "succeeded";
    private static readonly object s_failed = "failed";
    private static readonly object s_direct = "direct";
    private static readonly object s_refused = "refused";
    private static readonly object s_notModified = "not_modified";
    private static readonly object s_modified = "modified";
    private static readonly object s_hit = "hit";
    private static readonly object s_released = "released";
    private static readonly object s_timeout = "timeout";
    private readonly Counter<long> _cacheCollapsed;

    public HttpProxyMetrics(Meter meter)
    {
        _requests = meter.CreateCounter<long>("http_proxy.requests", "{request}", "Requests answered, by status code (CONNECT included).");
        _bytesFromClients = meter.CreateCounter<long>("http_proxy.client.bytes_received", "By", "Bytes received from clients (heads, bodies, tunnel data).");
        _bytesToClients = meter.CreateCounter<long>("http_proxy.client.bytes_sent", "By", "Bytes sent to clients (heads, bodies, tunnel data).");
        _activeTunnels = meter.CreateUpDownCounter<long>("http_proxy.tunnels.active", "{tunnel}", "CONNECT tunnels open now.");
        _upgrades = meter.CreateCounter<long>("http_proxy.upgrades", "{upgrade}", "Requests the origin answered with 101 Switching Protocols, relayed as a tunnel (RFC 9110 §7.8; WebSocket).");
        _activeConnections = meter.CreateUpDownCounter<long>("http_proxy.connections.active", "{connection}", "Client connections open now.");
        _originLatency = meter.CreateHistogram<double>("http_proxy.origin.duration", "s", "Time from sending a request to the origin to its response head.");
        _originConnections = meter.CreateCounter<long>("http_proxy.origin.connections", "{connection}", "Origin connections used per request, by whether a pooled one was reused.");
        _meter = meter;
        _cacheHits = meter.CreateCounter<long>("http_proxy.cache.hits", "{request}", "Requests answered from the cache without asking the origin.");
        _cacheHitBytes = meter.CreateCounter<long>("http_proxy.cache.hit_bytes", "By", "Body bytes answered from the cache (hits and validated responses).");
        _cacheMisses = meter.CreateCounter<long>("http_proxy.cache.misses", "{request}", "Cacheable requests (GET/HEAD) with nothing usable stored, forwarded to the origin.");
        _cacheRevalidations = meter.CreateCounter<long>("http_proxy.cache.revalidations", "{request}", "Stale or no-cache entries validated with the origin, by result (not_modified: the stored body was served).");
        _cacheStores = meter.CreateCounter<long>("http_proxy.cache.stores", "{response}", "Responses stored (new or replacing an entry).");
        _cacheStoredBytes = meter.CreateCounter<long>("http_proxy.cache.stored_bytes", "By", "Bytes of responses stored (head and body).");
        _cacheEvictions = meter.CreateCounter<long>("http_proxy.cache.evictions", "{response}", "Entries evicted to stay within maxBytes/maxEntries (least recently used first).");
        _cacheEvictedBytes = meter.CreateCounter<long>("http_proxy.cache.evicted_bytes", "By", "Bytes of evicted entries.");
        _destinationsDenied = meter.CreateCounter<long>("http_proxy.destinations.denied", "{request}", "Requests and tunnels refused by denyDestinations (answered 403, or SOCKS reply 2).");
        _socksRequests = meter.CreateCounter<long>("http_proxy.socks.requests", "{request}", "SOCKS requests answered, by command (connect, udp_associate, bind) and reply (succeeded, not_allowed, ...).");
        _authSuccesses = meter.CreateCounter<long>("http_proxy.auth.successes", "{login}", "Connections that authenticated, by protocol (http, socks5) and user (never the password).");
        _authFailures = meter.CreateCounter<long>("http_proxy.auth.failures", "{attempt}", "Failed proxy authentications (wrong or missing credentials), by protocol.");
        _socksDatagramsDropped = meter.CreateCounter<long>("http_proxy.socks.datagrams_dropped", "{datagram}", "UDP ASSOCIATE datagrams not relayed, by reason (fragment, not_client, denied, unsolicited, malformed).");
        _cacheCollapsed = meter.CreateCounter<long>("http_proxy.cache.collapsed", "{request}",
            "Requests that waited for another request's origin fetch of the same URL (collapsedForwarding), by result (hit: answered from the response it stored; released: it could not be stored or does not answer this request, so the request went to the origin; timeout: waited collapsedWaitMs, then went to the origin).");
        _parentConnections = meter.CreateCounter<long>("http_proxy.parent.connections", "{connection}", "Connections opened to parent proxies, by parent (its URL without credentials) and result (succeeded, failed: refused, unreachable or timed out; the parent is then skipped for a back-off).");
        _parentsUnavailable = meter.CreateCounter<long>("http_proxy.parent.unavailable", "{request}", "Requests and tunnels whose destination matched parents none of which was up, by outcome (direct, or refused: answered 502 under neverDirect).");
        _cacheInvalidations = meter.CreateCounter<long>("http_proxy.cache.invalidations", "{response}", "Entries removed by unsafe requests (POST, PUT, DELETE, ...) or replaced by uncacheable responses.");
    }

    /// <summary>Publishes the cache's size and entry count as observable gauges.</summary>
    public void ObserveCache(Cache.HttpCache cache)
    {
        _meter.CreateObservableGauge("http_proxy.cache.size", () => cache.Bytes, "By", "Bytes held by stored responses.");
        _meter.CreateObservableGauge("http_proxy.cache.entries", () => cache.Count, "{response}", "Responses stored.");
    }

    public void CacheHit(long bodyBytes)
    {
        _cacheHits.Add(1);
        _cacheHitBytes.Add(bodyBytes);
    }

    public void CacheMiss() => _cacheMisses.Add(1);

    public void CacheRevalidated(bool notModified, long bodyBytes)
    {
        _cacheRevalidations.Add(1, new KeyValuePair<string, object?>("result", notModified ? s_notModified : s_modified));
        if (notModified)
        {
            _cacheHitBytes.Add(bodyBytes);
        }
    }

    public void CacheStored(long bytes)
    {
        _cacheStores.Add(1);
        _cacheStoredBytes.Add(bytes);
    }

    public void CacheEvicted(int count, long bytes)
    {
        _cacheEvictions.Add(count);
        _cacheEvictedBytes.Add(bytes);
    }

    /// <summary>A request's wait for another request's fetch ended: answered from the stored response (<paramref name="hit"/>) or not.</summary>
    public void CacheCollapsed(Cache.CollapseOutcome outcome, bool hit) =>
        _cacheCollapsed.Add(1, new KeyValuePair<string, object?>("result", hit ? s_hit : outcome == Cache.CollapseOutcome.TimedOut ? s_timeout : s_released));

    public void CacheInvalidated() => _cacheInvalidations.Add(1);

    public void ParentConnection(string parent, bool succeeded) =>
        _parentConnections.Add(1, new KeyValuePair<string, object?>("parent", parent), new KeyValuePair<string, object?>("result", succeeded ? s_succeeded : s_failed));

    public void NoParentUp(bool refused) => _parentsUnavailable.Add(1, new KeyValuePair<string, object?>("outcome", refused ? s_refused : s_direct));

    public void DestinationDenied() => _destinationsDenied.Add(1);

    public void SocksRequest(string command, Socks.SocksReply reply) =>
        _socksRequests.Add(1, new KeyValuePair<string, object?>("command", command), new KeyValuePair<string, object?>("reply", ReplyName(reply)));

    public void Authenticated(string protocol, string user)
    {
        _authSuccesses.Add(1, new KeyValuePair<string, object?>("protocol", protocol), new KeyValuePair<string, object?>("user", user));
    }

    public void AuthFailed(string protocol)
    {
        Interlocked.Increment(ref _authFailureCount);
        _authFailures.Add(1, new KeyValuePair<string, object?>("protocol", protocol));
    }

    /// <summary>Failed authentications since start (the admin API's authFailures).</summary>
    public long AuthFailureCount => Interlocked.Read(ref _authFailureCount);

    public void SocksDatagramDropped(string reason) => _socksDatagramsDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    private static string ReplyName(Socks.SocksReply reply) => reply switch
    {
        Socks.SocksReply.Succeeded => "succeeded",
        Socks.SocksReply.NotAllowed => "not_allowed",
        Socks.SocksReply.NetworkUnreachable => "network_unreachable",
        Socks.SocksReply.HostUnreachable => "host_unreachable",
        Socks.SocksReply.ConnectionRefused => "connection_refused",
        Socks.SocksReply.TtlExpired => "ttl_expired",
        Socks.SocksReply.CommandNotSupported => "command_not_supported",
        Socks.SocksReply.AddressTypeNotSupported => "address_type_not_supported",
        _ => "general_failure",
    };

    public void Request(int status) =>
        _requests.Add(1, new KeyValuePair<string, object?>("status", (uint)(status - 100) < 500 ? s_statusBoxes[status - 100] : s_statusBoxes[0]));

    public void ClientBytes(long received, long sent)
    {
        if (received > 0)
        {
            _bytesFromClients.Add(received);
        }

        if (sent > 0)
        {
            _bytesToClients.Add(sent);
        }
    }

    public void TunnelOpened() => _activeTunnels.Add(1);

    public void TunnelClosed() => _activeTunnels.Add(-1);

    public void Upgraded() => _upgrades.Add(1);

    public void ConnectionOpened() => _activeConnections.Add(1);

    public void ConnectionClosed() => _activeConnections.Add(-1);

    public void OriginLatency(double seconds) => _originLatency.Record(seconds);

    public void OriginConnection(bool reused) => _originConnections.Add(1, new KeyValuePair<string, object?>("reused", reused ? s_true : s_false));

    private static object[] CreateStatusBoxes()
    {
        object[] boxes = new object[500];
        for (int i = 0; i < boxes.Length; i++)
        {
            boxes[i] = i + 100;
        }

        return boxes;
    }
}
