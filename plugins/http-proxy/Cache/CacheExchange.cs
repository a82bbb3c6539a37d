using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Plugins.HttpProxy.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// One client connection's side of the shared cache (RFC 9111), request by request: looks the request up
/// (<see cref="LookUp"/>: a hit, or a stale entry to validate), decides what becomes of the origin's response
/// (<see cref="PrepareStore"/>: store while relaying, invalidate, or drop), and turns a 304 into a freshened entry
/// (<see cref="Revalidated"/>). Holds references to the entries it found until the next request or disposal.
/// With collapsed forwarding on, a GET that misses leads the fetch of its URL, and identical misses meanwhile
/// wait for it (<see cref="Waiting"/>, <see cref="WaitAsync"/>) and then look the stored response up again
/// (<see cref="LookUpAfterWait"/>); see <see cref="CollapsedFetch"/>.
/// </summary>
/// <remarks>
/// A hit is served to a client only when its destination policy allows the address the entry came from, so a
/// response a local client fetched from a loopback service never answers a remote client (issue #13).
/// </remarks>
internal sealed class CacheExchange : IDisposable
{
    private readonly HttpCache _cache;
    private readonly HttpProxyMetrics _metrics;
    private readonly DestinationPolicy? _destinations;
    private readonly int _maxHeaderCount;
    private readonly CacheFill _fill;
    private char[] _key = [];
    private int _keyLength = -1;
    private RequestCacheInfo _cacheRequest;
    private CacheEntry? _hitEntry;
    private CacheEntry? _staleEntry;
    private ArrayBufferWriter<byte>? _storedHead;

    // Collapsed forwarding as the connection's rules set it (a reload does not rebuild the cache for these keys).
    private readonly bool _collapse;
    private readonly TimeSpan _collapseWait;
    private CollapsedFetch? _leading;
    private CollapsedFetch? _waiting;

    /// <param name="options">The cache settings of the connection's rules (collapsed forwarding is read from them).</param>
    /// <param name="destinations">The client's destination policy; null when it is held to none.</param>
    public CacheExchange(HttpCache cache, HttpCacheOptions options, HttpProxyMetrics metrics, DestinationPolicy? destinations, int maxHeaderCount)
    {
        _cache = cache;
        _collapse = options.CollapsedForwarding;
        _collapseWait = options.CollapsedWait;
        _metrics = metrics;
        _destinations = destinations;
        _maxHeaderCount = maxHeaderCount;
        _fill = new CacheFill(cache);
    }

    /// <summary>A stored response that answers the current request as is.</summary>
    public CacheEntry? Hit => _hitEntry;

    /// <summary>A stored response to validate with the origin (RFC 9111 §4.3.1).</summary>
    public CacheEntry? Stale => _staleEntry;

    /// <summary>
    /// The request wants only a stored response (only-if-cached, RFC 9111 §5.2.1.7) and none may answer it as is:
    /// it gets 504 without the origin being asked.
    /// </summary>
    public bool OnlyIfCachedMiss => _keyLength > 0 && _cacheRequest.Directives.OnlyIfCached && _cacheRequest.MayUseStored;

    /// <summary>
    /// Another request is fetching the current request's URL and this one waits for it (<see cref="WaitAsync"/>)
    /// instead of asking the origin; null otherwise.
    /// </summary>
    public CollapsedFetch? Waiting => _waiting;

    /// <summary>The fill of the response being stored while it is relayed, or null.</summary>
    public CacheFill? Fill => _fill.Active ? _fill : null;

    /// <summary>
    /// Ends storing the relayed response: kept only when every byte arrived (RFC 9111 §3.3: a truncated body is never
    /// stored); otherwise what was stored for the URI is outdated by it and dropped.
    /// </summary>
    public void EndStore(bool complete)
    {
        if (!_fill.Active)
        {
            EndLead(stored: false);
            return;
        }

        CacheEntry? stored = complete ? _fill.Complete() : null;
        if (stored is not null)
        {
            _cache.Store(stored);
            EndLead(stored: true);
        }
        else
        {
            _fill.Abandon();
            RemoveCurrent();
        }
    }

    /// <summary>
    /// The current request stores nothing (it failed, or is answered with an error made here): requests waiting for
    /// its fetch go to the origin alone, now.
    /// </summary>
    public void AbandonFetch() => EndLead(stored: false);

    /// <summary>Waits for the fetch the current request joined (<see cref="Waiting"/>), at most <c>cache.collapsedWaitMs</c>.</summary>
    public ValueTask<CollapseOutcome> WaitAsync(CancellationToken cancellationToken) => _waiting!.WaitAsync(_collapseWait, cancellationToken);

    /// <summary>
    /// After the wait for another request's fetch: true when the response it stored answers the current request as is
    /// (<see cref="Hit"/>); otherwise the request goes to the origin alone (<see cref="Stale"/> may hold an entry to
    /// validate).
    /// </summary>
    /// <param name="outcome">How the wait ended.</param>
    /// <param name="head">The request head (still the one <see cref="LookUp"/> was given).</param>
    /// <param name="fields">Its fields.</param>
    public bool LookUpAfterWait(CollapseOutcome outcome, ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields)
    {
        _waiting = null;
        bool hit = outcome == CollapseOutcome.Stored && Judge(_cache.Find(_key.AsSpan(0, _keyLength)), head, fields);
        _metrics.CacheCollapsed(outcome, hit);
        if (!hit && _staleEntry is null)
        {
            _metrics.CacheMiss();
        }

        return hit;
    }

    /// <summary>
    /// The origin answered the validation of <see cref="Stale"/> with 304 (RFC 9111 §4.3.3-§4.3.4): the entry that
    /// answers the client now — the stored one freshened with the 304's fields (stored again when it still may be).
    /// </summary>
    public CacheEntry Revalidated(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, TimeSpan originTime, bool isHead)
    {
        CacheEntry stale = _staleEntry!;
        CacheEntry fresh = Freshen(stale, head, fields, originTime);
        if (fresh != stale)
        {
            // Released with the stale one when the next request starts (or the session ends).
            _hitEntry = fresh;
        }

        _metrics.CacheRevalidated(notModified: true, isHead ? 0 : fresh.Body.Length);
        return fresh;
    }

    /// <summary>
    /// Looks the request up in the cache (RFC 9111 §4): true when a stored response answers it as is
    /// (<see cref="Hit"/>); otherwise <see cref="Stale"/> may hold one to validate with the origin.
    /// </summary>
    /// <param name="head">The request head.</param>
    /// <param name="request">The parsed head.</param>
    /// <param name="fields">Its fields.</param>
    /// <param name="target">The request-target (absolute-form).</param>
    /// <param name="proxyTarget">The target parsed.</param>
    public bool LookUp(ReadOnlySpan<byte> head, in RequestHead request, ReadOnlySpan<HeaderField> fields, ReadOnlySpan<byte> target, in ProxyTarget proxyTarget)
    {
        Reset();
        _cacheRequest = RequestCacheInfo.Parse(head, request, fields);
        if (!_cacheRequest.IsGet && !_cacheRequest.IsHead && !_cacheRequest.IsUnsafe)
        {
            return false;
        }

        if (request.IsUpgrade && !_cacheRequest.IsUnsafe)
        {
            // RFC 9110 §7.8: the answer may switch the connection to another protocol, so it is neither served
            // from nor stored in the cache (an unsafe method still invalidates, below).
            return false;
        }

        if (_key.Length < target.Length + 8)
        {
            _key = new char[Math.Min(CacheKey.MaxLength, Math.Max(256, target.Length + 8))];
        }

        _keyLength = CacheKey.Write(target, proxyTarget, _key);
        if (_keyLength < 0 || !_cacheRequest.MayUseStored || request.HasBody)
        {
            return false;
        }

        ReadOnlySpan<char> key = _key.AsSpan(0, _keyLength);
        CacheEntry? entry = _cache.Find(key);
        if (Judge(entry, head, fields))
        {
            return true;
        }

        if (_staleEntry is null && _collapse && !_cacheRequest.RequiresValidation && !_cacheRequest.Directives.OnlyIfCached)
        {
            // Collapsed forwarding: a GET leads the fetch of its URL (unless its response will not be stored: no-store);
            // a HEAD only waits for one, as it stores nothing itself.
            bool mayLead = _cacheRequest.IsGet && !_cacheRequest.Directives.NoStore;
            switch (_cache.Join(key, entry, mayLead, out CollapsedFetch? fetch))
            {
                case CollapseRole.Waiter:
                    // Counted as a hit or a miss when the wait ends (LookUpAfterWait).
                    _waiting = fetch;
                    return false;
                case CollapseRole.Leader:
                    _leading = fetch;
                    break;
                case CollapseRole.Stored when Judge(_cache.Find(key), head, fields):
                    return true;
            }
        }

        if (_staleEntry is null)
        {
            _metrics.CacheMiss();
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="entry"/> (a reference the caller took, or null) answers the current request as is: then
    /// it is <see cref="Hit"/>; or it is to be validated with the origin: then it is <see cref="Stale"/>; otherwise it
    /// is released.
    /// </summary>
    private bool Judge(CacheEntry? entry, ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields)
    {
        if (entry is not null && _destinations is not null && !_destinations.IsAllowed(entry.OriginAddress, out _))
        {
            // Stored from an origin this client may not reach (fetched by a local client): not a hit for it. The
            // request goes on to the origin connector, which refuses it with the rule.
            entry.Release();
            entry = null;
        }

        if (entry is not null && entry.VaryMatches(head, fields))
        {
            if (CachePolicy.MayServeWithoutValidation(entry.CurrentAgeMs(Environment.TickCount64), entry.Lifetime, entry.MustRevalidate, _cacheRequest))
            {
                _hitEntry = entry;
                return true;
            }

            if (entry.HasValidator)
            {
                // RFC 9111 §4.3.1: ask the origin whether the stored response is still current.
                _staleEntry = entry;
                return false;
            }
        }

        entry?.Release();
        return false;
    }

    /// <summary>Gives back the references to stored entries the previous request held; the next request starts clean.</summary>
    public void Reset()
    {
        EndLead(stored: false);
        _waiting = null;
        _hitEntry?.Release();
        _hitEntry = null;
        _staleEntry?.Release();
        _staleEntry = null;
        _keyLength = -1;
    }

    /// <summary>The conditional fields that validate <see cref="Stale"/> (RFC 9111 §4.3.1), or nothing when there is none.</summary>
    public byte[] StaleValidators()
    {
        if (_staleEntry is not { } entry)
        {
            return [];
        }

        var writer = new ArrayBufferWriter<byte>(128);
        if (entry.ETag is not null)
        {
            writer.Write("If-None-Match: "u8);
            writer.Write(entry.ETag);
            writer.Write("\r\n"u8);
        }

        if (entry.LastModified is not null)
        {
            writer.Write("If-Modified-Since: "u8);
            writer.Write(entry.LastModified);
            writer.Write("\r\n"u8);
        }

        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Decides what the cache does with a response from the origin: invalidate after an unsafe request
    /// (RFC 9111 §4.4), start storing a storable GET response (§3), or drop an entry it replaces.
    /// </summary>
    /// <param name="head">The origin's response head.</param>
    /// <param name="response">It parsed.</param>
    /// <param name="fields">Its fields.</param>
    /// <param name="plan">How its body is framed.</param>
    /// <param name="originTime">From sending the request to the response head.</param>
    /// <param name="forwarded">The request head as sent to the origin (Vary values are read from it).</param>
    /// <param name="scratch">Field array to parse <paramref name="forwarded"/> into (its contents are overwritten).</param>
    /// <param name="origin">The origin address the response came from.</param>
    /// <param name="host">The request's target host, for Location invalidation.</param>
    /// <param name="port">The request's target port.</param>
    public void PrepareStore(ReadOnlySpan<byte> head, in ResponseHead response, ReadOnlySpan<HeaderField> fields, in ResponsePlan plan, TimeSpan originTime,
        ReadOnlySpan<byte> forwarded, HeaderField[] scratch, NetAddress origin, ReadOnlySpan<byte> host, int port)
    {
        if (_keyLength <= 0)
        {
            return;
        }

        StartStore(head, response, fields, plan, originTime, forwarded, scratch, origin, host, port);
        if (!_fill.Active || response.Status >= 500)
        {
            // Nothing will be stored, or an error the origin may not repeat: whoever waits for this fetch asks the origin
            // itself, now rather than at the end of the body or of its wait (an error stored all the same is found there).
            EndLead(stored: false);
        }
    }

    private void StartStore(ReadOnlySpan<byte> head, in ResponseHead response, ReadOnlySpan<HeaderField> fields, in ResponsePlan plan, TimeSpan originTime,
        ReadOnlySpan<byte> forwarded, HeaderField[] scratch, NetAddress origin, ReadOnlySpan<byte> host, int port)
    {
        HttpCache cache = _cache;
        ResponseCacheInfo info = ResponseCacheInfo.Parse(head, fields);
        if (_cacheRequest.IsUnsafe)
        {
            if (response.Status < 400)
            {
                Invalidate(head, fields, info, host, port);
            }

            return;
        }

        if (!_cacheRequest.IsGet || response.Status == 304)
        {
            // A 304 to the client's own conditional request says nothing new about what is stored.
            return;
        }

        if (_staleEntry is not null)
        {
            _metrics.CacheRevalidated(notModified: false, 0);
        }

        StoreVerdict verdict = CachePolicy.CanStore(_cacheRequest, response.Status, info);
        long responseTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        long lifetime = verdict == StoreVerdict.Store
            ? CachePolicy.FreshnessLifetime(info, response.Status, responseTime, (long)cache.Options.HeuristicMaxAge.TotalSeconds)
            : 0;
        // A body with a transfer coding other than chunked cannot be decoded here, so it is not kept.
        bool framingKnown = !response.Headers.HasTransferEncoding || response.Headers.OnlyChunked;
        CacheEntry? template = verdict == StoreVerdict.Store && (lifetime > 0 || info.HasValidator) && framingKnown
            ? CreateTemplate(head, response.Status, fields, info, lifetime, responseTime, originTime, forwarded, scratch, origin)
            : null;
        if (template is null)
        {
            // What was stored for this URI is outdated by this response (unless the client only asked not to store).
            if (!_cacheRequest.Directives.NoStore)
            {
                RemoveCurrent();
            }

            return;
        }

        _storedHead ??= new ArrayBufferWriter<byte>(1024);
        _storedHead.ResetWrittenCount();
        StoredHead.Write(_storedHead, head, response, fields);
        long contentLength = plan.Framing switch
        {
            ResponseFraming.None => 0,
            ResponseFraming.Length => plan.Length,
            _ => -1,
        };
        if (!_fill.Begin(template, _storedHead.WrittenSpan, contentLength, _leading))
        {
            // Too large to keep: what was stored for this URI is outdated by this response all the same.
            RemoveCurrent();
        }
    }

    /// <summary>Finishes the fetch the current request leads, if any (<see cref="CollapsedFetch.Finish"/>).</summary>
    private void EndLead(bool stored)
    {
        if (_leading is { } fetch)
        {
            _leading = null;
            fetch.Finish(stored);
        }
    }

    /// <summary>Drops what is stored for the current request's URI (an incomplete response replaced it).</summary>
    public void RemoveCurrent()
    {
        if (_keyLength > 0 && _cache.Remove(_key.AsSpan(0, _keyLength)))
        {
            _metrics.CacheInvalidated();
        }
    }

    /// <summary>Everything of a new entry but its bytes: key, times and freshness, validators, Vary (null when it cannot be stored).</summary>
    private CacheEntry? CreateTemplate(ReadOnlySpan<byte> head, int status, ReadOnlySpan<HeaderField> fields, in ResponseCacheInfo info, long lifetime, long responseTime, TimeSpan originTime,
        ReadOnlySpan<byte> forwarded, HeaderField[] scratchFields, NetAddress origin)
    {
        byte[][]? varyNames = null;
        byte[]?[]? varyValues = null;
        if (info.VaryIndex >= 0)
        {
            // RFC 9111 §4.1: keep the request's values of the fields named by Vary, from the request as forwarded.
            List<byte[]> names = [];
            foreach (ref readonly HeaderField field in fields)
            {
                if (!Ascii.EqualsIgnoreCase(field.Name(head), "Vary"u8))
                {
                    continue;
                }

                ReadOnlySpan<byte> value = field.Value(head);
                foreach (Range token in new TokenEnumerator(value))
                {
                    byte[] name = value[token].ToArray();
                    Ascii.ToLowerInPlace(name, out _);
                    names.Add(name);
                }
            }

            if (HttpHeadParser.ParseRequest(forwarded, scratchFields, out RequestHead forwardedHead) != HttpParseError.None)
            {
                return null;
            }

            ReadOnlySpan<HeaderField> requestFields = scratchFields.AsSpan(0, forwardedHead.Headers.Count);
            Span<byte> scratch = stackalloc byte[1024];
            varyNames = [.. names];
            varyValues = new byte[]?[varyNames.Length];
            for (int i = 0; i < varyNames.Length; i++)
            {
                int length = CacheEntry.CombinedValue(forwarded, requestFields, varyNames[i], scratch);
                if (length == -2)
                {
                    return null;
                }

                varyValues[i] = length < 0 ? null : scratch[..length].ToArray();
            }
        }

        long requestTime = responseTime - (long)originTime.TotalSeconds;
        return new CacheEntry(new string(_key.AsSpan(0, _keyLength)), [], [], 0, status)
        {
            ReceivedAtMs = Environment.TickCount64,
            CorrectedInitialAge = CachePolicy.CorrectedInitialAge(info, requestTime, responseTime),
            Lifetime = lifetime,
            MustRevalidate = info.Directives.MustRevalidate || info.Directives.ProxyRevalidate || info.Directives.SharedMaxAge >= 0 || info.Directives.NoCache,
            ETag = info.ETagIndex >= 0 ? fields[info.ETagIndex].Value(head).ToArray() : null,
            LastModified = info.LastModifiedIndex >= 0 ? fields[info.LastModifiedIndex].Value(head).ToArray() : null,
            VaryNames = varyNames,
            VaryValues = varyValues,
            OriginAddress = origin,
        };
    }

    /// <summary>
    /// RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI, and the URIs in
    /// Location and Content-Location when they are on the same host (so a third party cannot purge others').
    /// </summary>
    private void Invalidate(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, in ResponseCacheInfo info, ReadOnlySpan<byte> host, int port)
    {
        HttpCache cache = _cache;
        if (cache.Remove(_key.AsSpan(0, _keyLength)))
        {
            _metrics.CacheInvalidated();
        }

        Span<char> other = stackalloc char[CacheKey.MaxLength];
        foreach (int index in (ReadOnlySpan<int>)[info.LocationIndex, info.ContentLocationIndex])
        {
            if (index < 0)
            {
                continue;
            }

            ReadOnlySpan<byte> uri = fields[index].Value(head);
            int length = -1;
            if (uri.Length > 0 && uri[0] == (byte)'/' && (uri.Length == 1 || uri[1] != (byte)'/'))
            {
                // A path on this origin: this request's key up to its path, then the new path.
                int authority = _key.AsSpan(0, _keyLength).IndexOf('/');
                if (authority > 0 && authority + uri.Length <= other.Length)
                {
                    _key.AsSpan(0, authority).CopyTo(other);
                    for (int i = 0; i < uri.Length; i++)
                    {
                        other[authority + i] = (char)uri[i];
                    }

                    length = authority + uri.Length;
                }
            }
            else if (ProxyTarget.TryParseAbsolute(uri, out ProxyTarget location) && location.Port == port &&
                     Ascii.EqualsIgnoreCase(location.Host(uri), host))
            {
                length = CacheKey.Write(uri, location, other);
            }

            if (length > 0 && cache.Remove(other[..length]))
            {
                _metrics.CacheInvalidated();
            }
        }
    }

    /// <summary>The stored response updated by a 304's fields, stored again when it still may be (RFC 9111 §4.3.4).</summary>
    private CacheEntry Freshen(CacheEntry stale, ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, TimeSpan originTime)
    {
        HttpCache cache = _cache;
        // The stored head (plus the empty line) parsed again; its fields are ours, so it parses.
        byte[] storedHead = new byte[stale.Head.Length + 2];
        stale.Head.CopyTo(storedHead);
        "\r\n"u8.CopyTo(storedHead.AsSpan(stale.Head.Length));
        HeaderField[] scratch = new HeaderField[(_maxHeaderCount * 2) + 8];
        if (HttpHeadParser.ParseResponse(storedHead, scratch, out ResponseHead stored) != HttpParseError.None)
        {
            return stale;
        }

        var merged = new ArrayBufferWriter<byte>(storedHead.Length + head.Length);
        StoredHead.Merge(merged, storedHead, scratch.AsSpan(0, stored.Headers.Count), head, fields);
        int mergedLength = merged.WrittenCount;
        merged.Write("\r\n"u8);
        if (HttpHeadParser.ParseResponse(merged.WrittenSpan, scratch, out ResponseHead updated) != HttpParseError.None)
        {
            return stale;
        }

        ReadOnlySpan<HeaderField> updatedFields = scratch.AsSpan(0, updated.Headers.Count);
        ResponseCacheInfo info = ResponseCacheInfo.Parse(merged.WrittenSpan, updatedFields);
        long responseTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        byte[] body = stale.Body.Length == 0 ? [] : cache.BodyPool.Rent(stale.Body.Length);
        stale.Body.Span.CopyTo(body);
        CacheEntry fresh = new(stale.Key, merged.WrittenSpan[..mergedLength].ToArray(), body, stale.Body.Length, stale.Status, cache.BodyPool)
        {
            ReceivedAtMs = Environment.TickCount64,
            CorrectedInitialAge = CachePolicy.CorrectedInitialAge(info, responseTime - (long)originTime.TotalSeconds, responseTime),
            Lifetime = CachePolicy.FreshnessLifetime(info, stale.Status, responseTime, (long)cache.Options.HeuristicMaxAge.TotalSeconds),
            MustRevalidate = info.Directives.MustRevalidate || info.Directives.ProxyRevalidate || info.Directives.SharedMaxAge >= 0 || info.Directives.NoCache,
            ETag = info.ETagIndex >= 0 ? updatedFields[info.ETagIndex].Value(merged.WrittenSpan).ToArray() : null,
            LastModified = info.LastModifiedIndex >= 0 ? updatedFields[info.LastModifiedIndex].Value(merged.WrittenSpan).ToArray() : null,
            VaryNames = stale.VaryNames,
            VaryValues = stale.VaryValues,
            OriginAddress = stale.OriginAddress,
        };
        // A HEAD validated the stored GET response just as well (RFC 9111 §4.3.5).
        RequestCacheInfo asGet = _cacheRequest;
        asGet.IsGet = true;
        if (CachePolicy.CanStore(asGet, stale.Status, info) == StoreVerdict.Store)
        {
            // One reference for the cache, the creator's for this session.
            fresh.TryAcquire();
            cache.Store(fresh);
        }
        else if (cache.Remove(stale.Key))
        {
            _metrics.CacheInvalidated();
        }

        return fresh;
    }

    /// <summary>Drops a response still being stored and the references held.</summary>
    public void Dispose()
    {
        _fill.Abandon();
        Reset();
    }
}
