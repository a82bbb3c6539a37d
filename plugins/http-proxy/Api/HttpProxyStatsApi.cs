using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Gateway.Sdk.Api;

namespace Gateway.Plugins.HttpProxy.Api;

/// <summary>
/// <c>GET /api/v1/plugins/http-proxy/stats</c> (the admin API contract, helpers/API-CONTRACT.md): requests, the rate
/// over the last minute, open connections and tunnels, the cache's hit ratio and size, and the requests answered by
/// another request's origin fetch (collapsed forwarding).
/// </summary>
/// <remarks>
/// The numbers are read off the plugin's own meter with a <see cref="MeterListener"/>, not kept beside it: the
/// page, <c>gateway top</c> and the Prometheus/OTLP exporters then show the same counts by construction, and the
/// request path is not touched. Written with <see cref="Utf8JsonWriter"/> rather than through
/// <see cref="ApiResponse.Json{T}"/>: the serializer's metadata cache lives in the host's (shared) options and would
/// keep types of this collectible plugin reachable after it is unloaded.
/// </remarks>
internal sealed class HttpProxyStatsApi : IDisposable
{
    /// <summary>The window of <c>requestsPerSecond</c>, as dns-dot's <c>qps</c>: the last 60 s.</summary>
    private const int WindowSeconds = 60;

    private readonly MeterListener _listener = new();
    private readonly Func<long> _seconds;
    private readonly bool _cacheEnabled;
    private readonly long[] _slotSecond = new long[WindowSeconds];
    private readonly long[] _slotCount = new long[WindowSeconds];
    private long _requests;
    private long _activeConnections;
    private long _activeTunnels;
    private long _cacheHits;
    private long _cacheMisses;
    private long _cacheEntries;
    private long _cacheBytes;
    private long _cacheCollapsed;
    private long _originRequests;
    private long _socksRequests;
    private long _authFailures;

    /// <param name="meter">The plugin's meter (<c>IPluginContext.Meter</c>), where <c>HttpProxyMetrics</c> records.</param>
    /// <param name="cacheEnabled">Whether <c>http-proxy.cache.enabled</c> is on.</param>
    /// <param name="seconds">Whole seconds of a monotonic clock (tests give their own).</param>
    public HttpProxyStatsApi(Meter meter, bool cacheEnabled, Func<long>? seconds = null)
    {
        _cacheEnabled = cacheEnabled;
        _seconds = seconds ?? (static () => Environment.TickCount64 / 1000);
        Array.Fill(_slotSecond, long.MinValue);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && Target(instrument.Name) is not Counted.None)
            {
                listener.EnableMeasurementEvents(instrument, Target(instrument.Name));
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) =>
        {
            // cache.collapsed: only the requests answered by another's fetch (result=hit) are origin requests saved.
            if ((Counted)state! != Counted.CacheCollapsed || IsHit(tags))
            {
                Record((Counted)state!, value);
            }
        });
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, state) => Record((Counted)state!, value));
        _listener.Start();
    }

    private enum Counted
    {
        None,
        Requests,
        ActiveConnections,
        ActiveTunnels,
        CacheHits,
        CacheMisses,
        CacheEntries,
        CacheBytes,
        CacheCollapsed,
        OriginRequests,
        SocksRequests,
        AuthFailures,
    }

    /// <summary>The route's handler.</summary>
    public ValueTask<ApiResponse> Answer(ApiRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new ApiResponse(200, "application/json; charset=utf-8", Write()));

    /// <summary>The JSON document now.</summary>
    public byte[] Write()
    {
        // The cache's size and entry count are observable gauges: ask for them now.
        _listener.RecordObservableInstruments();
        long hits = Interlocked.Read(ref _cacheHits);
        long misses = Interlocked.Read(ref _cacheMisses);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("requests", Interlocked.Read(ref _requests));
            json.WriteNumber("requestsPerSecond", Math.Round(RequestsInWindow() / (double)WindowSeconds, 3));
            json.WriteNumber("activeConnections", Math.Max(0, Interlocked.Read(ref _activeConnections)));
            json.WriteNumber("activeTunnels", Math.Max(0, Interlocked.Read(ref _activeTunnels)));
            json.WriteStartObject("cache");
            json.WriteBoolean("enabled", _cacheEnabled);
            json.WriteNumber("hits", hits);
            json.WriteNumber("misses", misses);
            json.WriteNumber("hitRatio", hits + misses == 0 ? 0 : Math.Round(hits / (double)(hits + misses), 4));
            json.WriteNumber("entries", Interlocked.Read(ref _cacheEntries));
            json.WriteNumber("bytes", Interlocked.Read(ref _cacheBytes));
            json.WriteNumber("collapsed", Interlocked.Read(ref _cacheCollapsed));
            json.WriteEndObject();
            json.WriteNumber("originRequests", Interlocked.Read(ref _originRequests));
            json.WriteNumber("socksRequests", Interlocked.Read(ref _socksRequests));
            json.WriteNumber("authFailures", Interlocked.Read(ref _authFailures));
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public void Dispose() => _listener.Dispose();

    // The instruments of HttpProxyMetrics this answer reads. socks.requests and auth.failures are the names the
    // SOCKS listener and proxy authentication (issue 18) record under; until a version has them they stay 0,
    // which is the truth: no such request can arrive.
    private static Counted Target(string name) => name switch
    {
        "http_proxy.requests" => Counted.Requests,
        "http_proxy.connections.active" => Counted.ActiveConnections,
        "http_proxy.tunnels.active" => Counted.ActiveTunnels,
        "http_proxy.cache.hits" => Counted.CacheHits,
        "http_proxy.cache.misses" => Counted.CacheMisses,
        "http_proxy.cache.entries" => Counted.CacheEntries,
        "http_proxy.cache.size" => Counted.CacheBytes,
        "http_proxy.cache.collapsed" => Counted.CacheCollapsed,
        "http_proxy.origin.connections" => Counted.OriginRequests,
        "http_proxy.socks.requests" => Counted.SocksRequests,
        "http_proxy.auth.failures" => Counted.AuthFailures,
        _ => Counted.None,
    };

    private void Record(Counted target, long value)
    {
        switch (target)
        {
            case Counted.Requests:
                Interlocked.Add(ref _requests, value);
                CountInWindow(value);
                break;
            case Counted.ActiveConnections:
                Interlocked.Add(ref _activeConnections, value);
                break;
            case Counted.ActiveTunnels:
                Interlocked.Add(ref _activeTunnels, value);
                break;
            case Counted.CacheHits:
                Interlocked.Add(ref _cacheHits, value);
                break;
            case Counted.CacheMisses:
                Interlocked.Add(ref _cacheMisses, value);
                break;
            case Counted.CacheEntries:
                // Gauges: the observed value is the state, not a delta.
                Interlocked.Exchange(ref _cacheEntries, value);
                break;
            case Counted.CacheBytes:
                Interlocked.Exchange(ref _cacheBytes, value);
                break;
            case Counted.CacheCollapsed:
                Interlocked.Add(ref _cacheCollapsed, value);
                break;
            case Counted.OriginRequests:
                Interlocked.Add(ref _originRequests, value);
                break;
            case Counted.SocksRequests:
                Interlocked.Add(ref _socksRequests, value);
                break;
            case Counted.AuthFailures:
                Interlocked.Add(ref _authFailures, value);
                break;
        }
    }

    private static bool IsHit(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == "result" && tag.Value is "hit")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One slot per second of the window; a slot found holding an older second is restarted first.</summary>
    private void CountInWindow(long value)
    {
        long second = _seconds();
        int slot = (int)(second % WindowSeconds);
        long seen = Volatile.Read(ref _slotSecond[slot]);
        if (seen != second && Interlocked.CompareExchange(ref _slotSecond[slot], second, seen) == seen)
        {
            Interlocked.Exchange(ref _slotCount[slot], 0);
        }

        Interlocked.Add(ref _slotCount[slot], value);
    }

    private long RequestsInWindow()
    {
        long now = _seconds();
        long sum = 0;
        for (int slot = 0; slot < WindowSeconds; slot++)
        {
            long second = Volatile.Read(ref _slotSecond[slot]);
            if (second > now - WindowSeconds && second <= now)
            {
                sum += Volatile.Read(ref _slotCount[slot]);
            }
        }

        return sum;
    }
}
