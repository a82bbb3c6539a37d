using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>Answers from the shared cache: a stored response as is, or one the origin validated with a 304 (RFC 9111 §4).</summary>
internal sealed partial class ClientSession
{
    /// <summary>Answers the current request from a stored response: its head, our Age and Via, then its body.</summary>
    private async ValueTask<bool> ServeStoredAsync(CacheEntry entry)
    {
        _result = _result == "TCP_MISS" ? "TCP_HIT" : _result;
        _response.Write(entry.Head);
        // RFC 9111 §5.1: Age is the stored response's current age, in whole seconds.
        _response.Write("Age: "u8);
        Span<byte> digits = _response.GetSpan(20);
        (entry.CurrentAgeMs(Environment.TickCount64) / 1000).TryFormat(digits, out int written);
        _response.Advance(written);
        _response.Write("\r\n"u8);
        bool close = !_request.KeepAlive;
        if (close)
        {
            _response.Write("Connection: close\r\n"u8);
        }
        else if (_request.MinorVersion == 0)
        {
            _response.Write("Connection: keep-alive\r\n"u8);
        }

        _response.Write(HeadWriter.ViaLine);
        _response.Write("\r\n"u8);
        IdleDeadline idle = new(_cts, _rules.Options.IdleTimeout);
        idle.Touch();
        if (!_request.IsHead && entry.Body.Length > 0)
        {
            await _response.WriteAsync(entry.Body, idle.Token).ConfigureAwait(false);
        }

        await _response.FlushAsync(idle.Token).ConfigureAwait(false);
        Answered(entry.Status);
        return !close;
    }

    /// <summary>
    /// Waits for another request's origin fetch of the same URL (collapsed forwarding, <see cref="CollapsedFetch"/>), then
    /// answers from the response it stored, or forwards the request alone when none answers it (not storable, a Vary
    /// the request does not match, the wait timed out). The request head waited in the receive buffer.
    /// </summary>
    private async ValueTask<bool> ServeCollapsedAsync(int headLength)
    {
        CacheExchange cache = _cache!;
        // The wait has its own bound (collapsedWaitMs): the request-head timeout still armed must not end it.
        _cts.CancelAfter(Timeout.InfiniteTimeSpan);
        CollapseOutcome outcome = await cache.WaitAsync(_cts.Token).ConfigureAwait(false);
        ReadOnlySpan<byte> head = _client.Buffered[..headLength];
        if (cache.LookUpAfterWait(outcome, head, _requestFields.AsSpan(0, _request.Headers.Count)))
        {
            _client.Consume(headLength);
            CacheEntry hit = cache.Hit!;
            Metrics.CacheHit(_request.IsHead ? 0 : hit.Body.Length);
            // squid's tag for a request answered by a fetch it was collapsed into.
            _result = "TCP_CF_HIT";
            return await ServeStoredAsync(hit).ConfigureAwait(false);
        }

        StageRequest(head);
        _client.Consume(headLength);
        return await ForwardAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The origin answered our validation with 304 (RFC 9111 §4.3.3-§4.3.4): freshen the stored response with
    /// the 304's fields, store it again, and answer the client from it.
    /// </summary>
    private async ValueTask<bool> ServeValidatedAsync(OriginConnection origin, int headLength, TimeSpan originTime)
    {
        ReadOnlySpan<byte> head = origin.Reader.Buffered[..headLength];
        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead response) != HttpParseError.None)
        {
            _origin.Drop();
            return await RejectAsync(502, "Bad Gateway", $"origin {_origin.Key} sent an invalid response head").ConfigureAwait(false);
        }

        CacheEntry fresh = _cache!.Revalidated(head, _responseFields.AsSpan(0, response.Headers.Count), originTime, _request.IsHead);
        origin.Reader.Consume(headLength);
        if (response.KeepAlive)
        {
            _origin.Complete();
        }
        else
        {
            _origin.Drop();
        }

        return await ServeStoredAsync(fresh).ConfigureAwait(false);
    }
}
