using System.Diagnostics;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>Forwarding a request to its origin and relaying the response (RFC 9112 §6, §9; RFC 9110 §15.2 interim responses).</summary>
internal sealed partial class ClientSession
{
    private async ValueTask<bool> ForwardAsync()
    {
        bool hasBody = _request.HasBody;
        OriginConnection origin;
        bool reused;
        try
        {
            (origin, reused) = await _origin.AcquireAsync(_request.IsUpgrade, _cts, _stopping).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            return await OriginFailedAsync(e).ConfigureAwait(false);
        }

        IdleDeadline idle = new(_cts, _rules.Options.IdleTimeout);
        Task<BodyResult>? bodyTask = null;
        long started;
        int headLength;
        while (true)
        {
            if (origin.Parent is { Url.Protocol: ParentProtocol.Http } parent)
            {
                // RFC 9112 §3.2.2: a request to a proxy carries the absolute-form target.
                HeadWriter.WriteAbsoluteForm(origin.Writer, _staged.WrittenSpan, parent.AuthorizationLine.Span);
            }
            else
            {
                origin.Writer.Write(_staged.WrittenSpan);
            }

            started = Stopwatch.GetTimestamp();
            if (hasBody && _request.Headers.ExpectContinue)
            {
                // RFC 9110 §10.1.1: the origin decides whether it wants the body, so its 100 (Continue)
                // or final answer is relayed while the body is streamed as the client sends it.
                idle.Touch();
                await origin.Writer.FlushAsync(idle.Token).ConfigureAwait(false);
                bodyTask = CopyRequestBodyAsync(origin, idle).AsTask();
            }
            else if (hasBody)
            {
                BodyResult sent;
                try
                {
                    sent = await CopyRequestBodyAsync(origin, idle).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    _origin.Drop();
                    return await OriginFailedAsync(new OriginException(502, "the origin closed the connection while receiving the request body")).ConfigureAwait(false);
                }

                if (sent != BodyResult.Complete)
                {
                    _origin.Drop();
                    if (sent == BodyResult.Invalid)
                    {
                        await RejectAsync(400, "Bad Request", "bad chunked request body (RFC 9112 section 7.1)").ConfigureAwait(false);
                    }

                    return false;
                }
            }
            else
            {
                idle.Touch();
                await origin.Writer.FlushAsync(idle.Token).ConfigureAwait(false);
            }

            try
            {
                headLength = await ReadResponseHeadAsync(origin).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
            {
                _origin.Drop();
                await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
                string originText = _origin.Key;
                if (_proxy.Warnings.ShouldLog(WarningKind.OriginTimeout))
                {
                    HttpProxyLog.OriginTimeout(Logger, originText, "no response head");
                }

                return await RejectAsync(504, "Gateway Timeout", $"origin {originText} did not answer within {_rules.Options.OriginResponseTimeout.TotalSeconds:0.#} s").ConfigureAwait(false);
            }
            catch (SocketException)
            {
                headLength = HeadEof;
            }

            if (headLength == HeadEof && reused && !hasBody)
            {
                // RFC 9112 §9.3.1: a pooled connection the origin closed meanwhile; retry once on a new one.
                _origin.Drop();
                try
                {
                    (origin, reused) = await _origin.AcquireAsync(_request.IsUpgrade, _cts, _stopping).ConfigureAwait(false);
                }
                catch (OriginException e)
                {
                    return await OriginFailedAsync(e).ConfigureAwait(false);
                }

                continue;
            }

            break;
        }

        if (headLength < 0)
        {
            _origin.Drop();
            await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
            HttpProxyLog.BadResponse(Logger, _origin.Key, headLength == HeadTooLarge ? "response head too large" : "closed before a complete response head");
            return await RejectAsync(502, "Bad Gateway", $"origin {_origin.Key} closed the connection without a complete response").ConfigureAwait(false);
        }

        TimeSpan originTime = Stopwatch.GetElapsedTime(started);
        Metrics.OriginLatency(originTime.TotalSeconds);
        if (_request.IsUpgrade && IsSwitchingProtocols(origin.Reader.Buffered[..headLength]))
        {
            await UpgradeAsync(origin, headLength).ConfigureAwait(false);
            return false;
        }

        if (_cache?.Stale is not null && IsNotModified(origin.Reader.Buffered[..headLength]))
        {
            return await ServeValidatedAsync(origin, headLength, originTime).ConfigureAwait(false);
        }

        ResponsePlan plan = PrepareResponse(origin, headLength, originTime);
        if (plan.Status == 0)
        {
            _origin.Drop();
            await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
            return await RejectAsync(502, "Bad Gateway", $"origin {_origin.Key} sent an invalid response head").ConfigureAwait(false);
        }

        CacheFill? fill = _cache?.Fill;
        BodyResult relayed = plan.Framing switch
        {
            ResponseFraming.None => BodyResult.Complete,
            ResponseFraming.Length => await BodyRelay.CopyLengthAsync(origin.Reader, _response, plan.Length, idle, fill).ConfigureAwait(false),
            ResponseFraming.Chunked => await BodyRelay.CopyChunkedAsync(origin.Reader, _response, decode: _request.MinorVersion == 0, idle, fill).ConfigureAwait(false),
            _ => await BodyRelay.CopyToEndAsync(origin.Reader, _response, idle, fill).ConfigureAwait(false),
        };
        idle.Touch();
        await _response.FlushAsync(idle.Token).ConfigureAwait(false);
        Answered(plan.Status);
        _cache?.EndStore(relayed == BodyResult.Complete);

        bool requestComplete = true;
        if (bodyTask is not null)
        {
            if (!bodyTask.IsCompleted)
            {
                // The origin answered without waiting for the whole body: the rest of it can't be
                // delimited any more on either connection.
                _origin.Drop();
                await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
                return false;
            }

            requestComplete = await bodyTask.ConfigureAwait(false) == BodyResult.Complete;
        }

        if (relayed != BodyResult.Complete || plan.Framing == ResponseFraming.ToClose || !plan.OriginKeepAlive || !requestComplete)
        {
            _origin.Drop();
        }
        else
        {
            _origin.Complete();
        }

        return relayed == BodyResult.Complete && requestComplete && !plan.CloseClient;
    }

    private async ValueTask<BodyResult> CopyRequestBodyAsync(OriginConnection origin, IdleDeadline idle)
    {
        BodyResult result = _request.Headers.Chunked
            ? await BodyRelay.CopyChunkedAsync(_client, origin.Writer, decode: false, idle).ConfigureAwait(false)
            : await BodyRelay.CopyLengthAsync(_client, origin.Writer, _request.Headers.ContentLength, idle).ConfigureAwait(false);
        idle.Touch();
        await origin.Writer.FlushAsync(idle.Token).ConfigureAwait(false);
        return result;
    }

    /// <summary>Reads response heads, relaying interim 1xx ones (RFC 9110 §15.2); the final head's length or a Head* code.</summary>
    private async ValueTask<int> ReadResponseHeadAsync(OriginConnection origin)
    {
        TimeSpan timeout = _rules.Options.OriginResponseTimeout;
        for (int interim = 0; ; interim++)
        {
            int length = await ReadHeadAsync(origin.Reader, timeout, timeout, skipEmptyLines: false, isClient: false).ConfigureAwait(false);
            if (length < 0 || !RelayInterim(origin.Reader, length))
            {
                return length;
            }

            if (interim == MaxInterimResponses)
            {
                return HeadTooLarge;
            }

            await _response.FlushAsync(_cts.Token).ConfigureAwait(false);
        }
    }

    /// <summary>True when the head was an interim 1xx response and was relayed (or dropped, for an HTTP/1.0 client).</summary>
    private bool RelayInterim(SocketReader reader, int length)
    {
        ReadOnlySpan<byte> head = reader.Buffered[..length];
        if (head.Length < 12 || head[9] != (byte)'1' || head[10..12].SequenceEqual("01"u8))
        {
            // Not 1xx, or 101: final for an upgrade request (UpgradeAsync), an invalid response to any other
            // (RFC 9110 §15.2.2: a server must not switch protocols unless asked).
            return false;
        }

        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead interim) != HttpParseError.None)
        {
            return false;
        }

        if (_request.MinorVersion == 1)
        {
            // RFC 9110 §15.2: 1xx responses are not sent to HTTP/1.0 clients.
            HeadWriter.WriteResponse(_response, head, interim, _responseFields.AsSpan(0, interim.Headers.Count), chunked: false, close: false, keepAlive: false);
        }

        reader.Consume(length);
        return true;
    }

    /// <summary>Parses the final response head and writes the client's head; Status 0 when invalid.</summary>
    private ResponsePlan PrepareResponse(OriginConnection origin, int headLength, TimeSpan originTime)
    {
        ReadOnlySpan<byte> head = origin.Reader.Buffered[..headLength];
        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead response) != HttpParseError.None || response.Status < 200)
        {
            return default;
        }

        bool http10Client = _request.MinorVersion == 0;
        if (http10Client && response.Headers.HasTransferEncoding && !response.Headers.OnlyChunked)
        {
            // Codings besides chunked stay on the body; an HTTP/1.0 client has no Transfer-Encoding to learn them from.
            return default;
        }

        ResponsePlan plan = new() { Status = response.Status, OriginKeepAlive = response.KeepAlive };
        // RFC 9112 §6.3: the framing of the response, in the RFC's order.
        if (_request.IsHead || response.Status is 204 or 304)
        {
            plan.Framing = ResponseFraming.None;
        }
        else if (response.Headers.HasTransferEncoding)
        {
            plan.Framing = response.Headers.Chunked ? ResponseFraming.Chunked : ResponseFraming.ToClose;
        }
        else if (response.Headers.ContentLength >= 0)
        {
            plan.Framing = response.Headers.ContentLength == 0 ? ResponseFraming.None : ResponseFraming.Length;
            plan.Length = response.Headers.ContentLength;
        }
        else
        {
            plan.Framing = ResponseFraming.ToClose;
        }

        plan.CloseClient = !_request.KeepAlive || plan.Framing == ResponseFraming.ToClose || (http10Client && plan.Framing == ResponseFraming.Chunked);
        bool chunkedToClient = plan.Framing == ResponseFraming.Chunked && !http10Client;
        HeadWriter.WriteResponse(_response, head, response, _responseFields.AsSpan(0, response.Headers.Count), chunkedToClient, plan.CloseClient, keepAlive: http10Client && !plan.CloseClient);
        // Vary values are read from the request as forwarded, parsed into the request's field array: the client's
        // fields are not needed after this point.
        _cache?.PrepareStore(head, response, _responseFields.AsSpan(0, response.Headers.Count), plan, originTime, _staged.WrittenSpan, _requestFields,
            origin.Address, _origin.TargetHost, _target.Port);

        origin.Reader.Consume(headLength);
        return plan;
    }

    private static bool IsNotModified(ReadOnlySpan<byte> head) => head.Length >= 12 && head[9..12].SequenceEqual("304"u8);

    private static bool IsSwitchingProtocols(ReadOnlySpan<byte> head) => head.Length >= 12 && head[9..12].SequenceEqual("101"u8);

    /// <summary>Stops a request body still being streamed (the exchange failed) and waits for it to let go of the buffers.</summary>
    private async ValueTask AbandonBodyAsync(Task<BodyResult>? bodyTask)
    {
        if (bodyTask is null)
        {
            return;
        }

        if (!bodyTask.IsCompleted)
        {
            TunnelRelay.Abort(_socket);
            _origin.Drop();
        }

        try
        {
            await bodyTask.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Expected: its sockets were shut down.
        }
    }
}
