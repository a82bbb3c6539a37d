using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Wire;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>
/// One client connection: reads requests one after another (RFC 9112 §9.3 persistence), forwards
/// each to its origin and relays the response, or turns into a CONNECT tunnel.
/// </summary>
/// <remarks>
/// Everything a request needs lives in fields reused across requests (head field arrays, the staged
/// origin head, the last origin's name and addresses), so a keep-alive request to the same origin
/// allocates nothing here beyond what the socket calls do.
/// </remarks>
internal sealed class ClientSession : IDisposable
{
    private const int HeadEof = -1;
    private const int HeadTooLarge = -2;
    private const int HeadTruncated = -3;
    private const int HeadBareLineBreak = -4;

    // More interim (1xx) responses than this before the final one end the exchange: an origin that sends them
    // forever would otherwise hold the client past every timeout (each head re-arms the response timeout).
    private const int MaxInterimResponses = 16;
    private const int MaxHostLength = 255;

    private readonly HttpProxyHandler _proxy;
    private readonly StreamConnection _connection;
    private readonly Socket _socket;
    private readonly SocketReader _client;
    private readonly SocketWriter _response;
    private readonly CancellationTokenSource _cts;
    private readonly CancellationToken _stopping;
    private readonly HeaderField[] _requestFields;
    private readonly HeaderField[] _responseFields;
    private readonly ArrayBufferWriter<byte> _staged = new(1024);
    private readonly byte[] _host = new byte[MaxHostLength];
    private readonly int _maxHeadBytes;

    // Whether the client is on this host, and the destination policy it is held to (null: none, a local client
    // could connect anywhere itself). Fixed at admission: a reload changes the rules for new connections only.
    private readonly bool _localClient;
    private readonly DestinationPolicy? _destinations;

    private RequestHead _request;
    private ProxyTarget _target;
    private int _hostLength;
    private string _error = string.Empty;

    // The origin of the previous request: its connection (kept while the client asks the same origin),
    // its pool key and its resolved addresses.
    private OriginConnection? _origin;

    // True while an exchange is in flight on _origin: if the session ends then, the connection is in
    // an unknown state and must be closed, not pooled.
    private bool _originBusy;
    private readonly byte[] _lastHost = new byte[MaxHostLength];
    private int _lastHostLength = -1;
    private int _lastPort;
    private string _lastKey = string.Empty;
    private string _lastHostText = string.Empty;
    private IPAddress[]? _lastAddresses;
    private long _lastResolvedAt;
    private long _reportedReceived;
    private long _reportedSent;
    private long _tunnelSent;

    // The shared cache's view of the current request (all null / -1 when the cache is off or the request
    // does not use it): its key, what its fields say, and the stored response found for it.
    private readonly CacheFill? _fill;
    private char[] _key = [];
    private int _keyLength = -1;
    private RequestCacheInfo _cacheRequest;
    private CacheEntry? _hit;
    private CacheEntry? _stale;
    private ArrayBufferWriter<byte>? _storedHead;

    public ClientSession(HttpProxyHandler proxy, StreamConnection connection, CancellationToken stopping)
    {
        _proxy = proxy;
        _connection = connection;
        _socket = connection.Socket;
        _stopping = stopping;
        _cts = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _maxHeadBytes = proxy.Options.MaxHeaderBytes;
        _client = new SocketReader(_socket, Math.Max(proxy.Options.BufferSize, _maxHeadBytes));
        _response = new SocketWriter(_socket, 16 * 1024);
        _localClient = AccessControl.IsLocalClient(connection.Client.Address, proxy.HostAddresses);
        _destinations = _localClient ? null : proxy.Destinations;
        _requestFields = new HeaderField[proxy.Options.MaxHeaderCount];
        _responseFields = new HeaderField[proxy.Options.MaxHeaderCount];
        if (proxy.Cache is not null)
        {
            _fill = new CacheFill(proxy.Cache);
        }
    }

    private ILogger Logger => _proxy.Logger;

    private HttpProxyMetrics Metrics => _proxy.Metrics;

    private string ClientText => _connection.Client.ToString();

    public async Task RunAsync()
    {
        try
        {
            _socket.NoDelay = true;
            if (!_proxy.Access.IsClientAllowed(_connection.Client.Address))
            {
                if (_proxy.Warnings.ShouldLog(WarningKind.ClientDenied))
                {
                    HttpProxyLog.ClientDenied(Logger, ClientText);
                }

                await SendErrorAsync(403, "Forbidden", "this client address may not use the proxy (allowClients/denyClients)").ConfigureAwait(false);
                return;
            }

            while (await ServeOneAsync().ConfigureAwait(false))
            {
                ReportBytes();
            }
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            LogEnded("idle or transfer timeout");
        }
        catch (OperationCanceledException)
        {
            // The plugin is stopping.
        }
        catch (SocketException e)
        {
            LogEnded(e.SocketErrorCode.ToString());
        }
        catch (IOException e)
        {
            LogEnded(e.Message);
        }
        catch (ObjectDisposedException)
        {
            LogEnded("socket closed");
        }
        finally
        {
            ReportBytes();
        }
    }

    /// <summary>Serves one request; false when the connection must end.</summary>
    private async ValueTask<bool> ServeOneAsync()
    {
        int headLength = await ReadHeadAsync(_client, _proxy.Options.KeepAliveTimeout, _proxy.Options.RequestHeadersTimeout, skipEmptyLines: true, isClient: true).ConfigureAwait(false);
        if (headLength == HeadEof)
        {
            return false;
        }

        if (headLength == HeadTooLarge)
        {
            return await RejectAsync(431, "Request Header Fields Too Large", $"the request head exceeds {_maxHeadBytes} bytes (maxHeaderBytes)").ConfigureAwait(false);
        }

        if (headLength == HeadBareLineBreak)
        {
            return await RejectAsync(400, "Bad Request", "a line of the request head ends without CRLF (bare LF or CR, RFC 9112 section 2.2)").ConfigureAwait(false);
        }

        if (headLength == HeadTruncated)
        {
            LogEnded("closed in the middle of a request head");
            return false;
        }

        int status = PrepareRequest(headLength);
        if (status != 0)
        {
            return await RejectAsync(status, ReasonPhrase(status), _error).ConfigureAwait(false);
        }

        if (_request.IsConnect)
        {
            await TunnelAsync().ConfigureAwait(false);
            return false;
        }

        if (_hit is not null)
        {
            Metrics.CacheHit(_request.IsHead ? 0 : _hit.Body.Length);
            return await ServeStoredAsync(_hit).ConfigureAwait(false);
        }

        return await ForwardAsync().ConfigureAwait(false);
    }

    /// <summary>Parses the head in the receive buffer and stages the origin-form head; 0 or the status to answer.</summary>
    private int PrepareRequest(int headLength)
    {
        ReleaseCacheEntries();
        _keyLength = -1;
        ReadOnlySpan<byte> head = _client.Buffered[..headLength];
        HttpParseError error = HttpHeadParser.ParseRequest(head, _requestFields, out _request);
        if (error != HttpParseError.None)
        {
            _error = HttpParseErrors.Describe(error, _requestFields.Length);
            return HttpParseErrors.Status(error);
        }

        ReadOnlySpan<byte> target = _request.Target(head);
        bool parsed = _request.IsConnect ? ProxyTarget.TryParseConnect(target, out _target) : ProxyTarget.TryParseAbsolute(target, out _target);
        if (!parsed)
        {
            _error = _request.IsConnect
                ? "CONNECT needs host:port (RFC 9110 section 9.3.6)"
                : "this is a forward proxy: the request needs an absolute http:// URI (use CONNECT for https)";
            return 400;
        }

        ReadOnlySpan<byte> host = _target.Host(target);
        if (host.Length > MaxHostLength)
        {
            _error = "host name too long";
            return 400;
        }

        bool portAllowed = _request.IsConnect
            ? _proxy.Access.IsConnectPortAllowed(_target.Port, _localClient)
            : _proxy.Access.IsPortAllowed(_target.Port);
        if (!portAllowed)
        {
            HttpProxyLog.PortDenied(Logger, ClientText, _target.Port);
            _error = $"destination port {_target.Port} is not allowed by this proxy";
            return 403;
        }

        host.CopyTo(_host);
        _hostLength = host.Length;
        if (!_request.IsConnect)
        {
            if (_proxy.Cache is not null && LookUpCache(head, target))
            {
                _client.Consume(headLength);
                return 0;
            }

            if (_keyLength > 0 && _cacheRequest.Directives.OnlyIfCached && _cacheRequest.MayUseStored)
            {
                // RFC 9111 §5.2.1.7: nothing stored may answer as is, and the client does not want the origin asked.
                _error = "only-if-cached: no stored response for this request";
                return 504;
            }

            _staged.ResetWrittenCount();
            HeadWriter.WriteRequest(_staged, head, _request, _requestFields.AsSpan(0, _request.Headers.Count), _target,
                _stale is null ? default : Validators(_stale));
        }

        _client.Consume(headLength);
        return 0;
    }

    /// <summary>
    /// Looks the request up in the cache (RFC 9111 §4): true when a stored response answers it as is
    /// (<see cref="_hit"/>); otherwise <see cref="_stale"/> may hold one to validate with the origin.
    /// </summary>
    private bool LookUpCache(ReadOnlySpan<byte> head, ReadOnlySpan<byte> target)
    {
        ReadOnlySpan<HeaderField> fields = _requestFields.AsSpan(0, _request.Headers.Count);
        _cacheRequest = RequestCacheInfo.Parse(head, _request, fields);
        if (!_cacheRequest.IsGet && !_cacheRequest.IsHead && !_cacheRequest.IsUnsafe)
        {
            return false;
        }

        if (_request.IsUpgrade && !_cacheRequest.IsUnsafe)
        {
            // RFC 9110 §7.8: the answer may switch the connection to another protocol, so it is neither served
            // from nor stored in the cache (an unsafe method still invalidates, below).
            return false;
        }

        if (_key.Length < target.Length + 8)
        {
            _key = new char[Math.Min(CacheKey.MaxLength, Math.Max(256, target.Length + 8))];
        }

        _keyLength = CacheKey.Write(target, _target, _key);
        if (_keyLength < 0 || !_cacheRequest.MayUseStored || _request.HasBody)
        {
            return false;
        }

        CacheEntry? entry = _proxy.Cache!.Find(_key.AsSpan(0, _keyLength));
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
                _hit = entry;
                return true;
            }

            if (entry.HasValidator)
            {
                // RFC 9111 §4.3.1: ask the origin whether the stored response is still current.
                _stale = entry;
                return false;
            }
        }

        entry?.Release();
        Metrics.CacheMiss();
        return false;
    }

    /// <summary>Gives back the references to stored entries the previous request held.</summary>
    private void ReleaseCacheEntries()
    {
        _hit?.Release();
        _hit = null;
        _stale?.Release();
        _stale = null;
    }

    /// <summary>The conditional fields that validate <paramref name="entry"/> (RFC 9111 §4.3.1).</summary>
    private static byte[] Validators(CacheEntry entry)
    {
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

    /// <summary>Answers the current request from a stored response: its head, our Age and Via, then its body.</summary>
    private async ValueTask<bool> ServeStoredAsync(CacheEntry entry)
    {
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
        IdleDeadline idle = new(_cts, _proxy.Options.IdleTimeout);
        idle.Touch();
        if (!_request.IsHead && entry.Body.Length > 0)
        {
            await _response.WriteAsync(entry.Body, idle.Token).ConfigureAwait(false);
        }

        await _response.FlushAsync(idle.Token).ConfigureAwait(false);
        Metrics.Request(entry.Status);
        return !close;
    }

    private async ValueTask<bool> ForwardAsync()
    {
        bool hasBody = _request.HasBody;
        OriginConnection origin;
        bool reused;
        try
        {
            (origin, reused) = await AcquireOriginAsync().ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            return await OriginFailedAsync(e).ConfigureAwait(false);
        }

        IdleDeadline idle = new(_cts, _proxy.Options.IdleTimeout);
        Task<BodyResult>? bodyTask = null;
        long started;
        int headLength;
        while (true)
        {
            origin.Writer.Write(_staged.WrittenSpan);
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
                    DropOrigin();
                    return await OriginFailedAsync(new OriginException(502, "the origin closed the connection while receiving the request body")).ConfigureAwait(false);
                }

                if (sent != BodyResult.Complete)
                {
                    DropOrigin();
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
                DropOrigin();
                await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
                string originText = _lastKey;
                if (_proxy.Warnings.ShouldLog(WarningKind.OriginTimeout))
                {
                    HttpProxyLog.OriginTimeout(Logger, originText, "no response head");
                }

                return await RejectAsync(504, "Gateway Timeout", $"origin {originText} did not answer within {_proxy.Options.OriginResponseTimeout.TotalSeconds:0.#} s").ConfigureAwait(false);
            }
            catch (SocketException)
            {
                headLength = HeadEof;
            }

            if (headLength == HeadEof && reused && !hasBody)
            {
                // RFC 9112 §9.3.1: a pooled connection the origin closed meanwhile; retry once on a new one.
                DropOrigin();
                try
                {
                    (origin, reused) = await AcquireOriginAsync().ConfigureAwait(false);
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
            DropOrigin();
            await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
            HttpProxyLog.BadResponse(Logger, _lastKey, headLength == HeadTooLarge ? "response head too large" : "closed before a complete response head");
            return await RejectAsync(502, "Bad Gateway", $"origin {_lastKey} closed the connection without a complete response").ConfigureAwait(false);
        }

        TimeSpan originTime = Stopwatch.GetElapsedTime(started);
        Metrics.OriginLatency(originTime.TotalSeconds);
        if (_request.IsUpgrade && IsSwitchingProtocols(origin.Reader.Buffered[..headLength]))
        {
            await UpgradeAsync(origin, headLength).ConfigureAwait(false);
            return false;
        }

        if (_stale is not null && IsNotModified(origin.Reader.Buffered[..headLength]))
        {
            return await ServeValidatedAsync(origin, headLength, originTime).ConfigureAwait(false);
        }

        ResponsePlan plan = PrepareResponse(origin, headLength, originTime);
        if (plan.Status == 0)
        {
            DropOrigin();
            await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
            return await RejectAsync(502, "Bad Gateway", $"origin {_lastKey} sent an invalid response head").ConfigureAwait(false);
        }

        CacheFill? fill = _fill is { Active: true } ? _fill : null;
        BodyResult relayed = plan.Framing switch
        {
            ResponseFraming.None => BodyResult.Complete,
            ResponseFraming.Length => await BodyRelay.CopyLengthAsync(origin.Reader, _response, plan.Length, idle, fill).ConfigureAwait(false),
            ResponseFraming.Chunked => await BodyRelay.CopyChunkedAsync(origin.Reader, _response, decode: _request.MinorVersion == 0, idle, fill).ConfigureAwait(false),
            _ => await BodyRelay.CopyToEndAsync(origin.Reader, _response, idle, fill).ConfigureAwait(false),
        };
        idle.Touch();
        await _response.FlushAsync(idle.Token).ConfigureAwait(false);
        Metrics.Request(plan.Status);
        if (fill is not null)
        {
            // Stored only when every byte arrived; a truncated body is never kept (RFC 9111 §3.3).
            CacheEntry? stored = relayed == BodyResult.Complete ? fill.Complete() : null;
            if (stored is not null)
            {
                _proxy.Cache!.Store(stored);
            }
            else
            {
                fill.Abandon();
                RemoveCurrent();
            }
        }

        bool requestComplete = true;
        if (bodyTask is not null)
        {
            if (!bodyTask.IsCompleted)
            {
                // The origin answered without waiting for the whole body: the rest of it can't be
                // delimited any more on either connection.
                DropOrigin();
                await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
                return false;
            }

            requestComplete = await bodyTask.ConfigureAwait(false) == BodyResult.Complete;
        }

        if (relayed != BodyResult.Complete || plan.Framing == ResponseFraming.ToClose || !plan.OriginKeepAlive || !requestComplete)
        {
            DropOrigin();
        }
        else
        {
            _originBusy = false;
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
        TimeSpan timeout = _proxy.Options.OriginResponseTimeout;
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
        if (_keyLength > 0)
        {
            PrepareCaching(head, response, _responseFields.AsSpan(0, response.Headers.Count), plan, originTime);
        }

        origin.Reader.Consume(headLength);
        return plan;
    }

    private static bool IsNotModified(ReadOnlySpan<byte> head) => head.Length >= 12 && head[9..12].SequenceEqual("304"u8);

    private static bool IsSwitchingProtocols(ReadOnlySpan<byte> head) => head.Length >= 12 && head[9..12].SequenceEqual("101"u8);

    /// <summary>
    /// The origin accepted the upgrade (RFC 9110 §7.8, §15.2.2): relays its 101 and then the new protocol's bytes
    /// both ways, as a CONNECT tunnel does. The origin connection ends with it; it is never pooled again.
    /// </summary>
    private async ValueTask UpgradeAsync(OriginConnection origin, int headLength)
    {
        ReadOnlySpan<byte> head = origin.Reader.Buffered[..headLength];
        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead response) != HttpParseError.None || !response.Headers.HasUpgrade)
        {
            // RFC 9110 §7.8: a 101 must say which protocol the connection switches to.
            DropOrigin();
            HttpProxyLog.BadResponse(Logger, _lastKey, "101 without an Upgrade field");
            await RejectAsync(502, "Bad Gateway", $"origin {_lastKey} sent an invalid response head").ConfigureAwait(false);
            return;
        }

        ReadOnlySpan<HeaderField> fields = _responseFields.AsSpan(0, response.Headers.Count);
        HeadWriter.WriteResponse(_response, head, response, fields, chunked: false, close: false, keepAlive: false, upgrade: true);
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            HttpProxyLog.Upgraded(Logger, ClientText, _lastKey, Encoding.ASCII.GetString(UpgradeValue(head, fields)));
        }

        origin.Reader.Consume(headLength);
        // The connection now carries another protocol: it leaves the session and is closed at the end.
        _origin = null;
        _originBusy = false;
        using (origin)
        {
            await _response.FlushAsync(_cts.Token).ConfigureAwait(false);
            Metrics.Request(101);
            Metrics.Upgraded();
            // Bytes either side sent right after its head are still buffered: the relay sends them first.
            await RelayAsync(origin.Socket, origin.Reader).ConfigureAwait(false);
        }
    }

    private static ReadOnlySpan<byte> UpgradeValue(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields)
    {
        foreach (ref readonly HeaderField field in fields)
        {
            if (field.Known == KnownHeader.Upgrade)
            {
                return field.Value(head);
            }
        }

        return default;
    }

    /// <summary>
    /// Decides what the cache does with a response from the origin: invalidate after an unsafe request
    /// (RFC 9111 §4.4), start storing a storable GET response (§3), or drop an entry it replaces.
    /// </summary>
    private void PrepareCaching(ReadOnlySpan<byte> head, in ResponseHead response, ReadOnlySpan<HeaderField> fields, in ResponsePlan plan, TimeSpan originTime)
    {
        HttpCache cache = _proxy.Cache!;
        ResponseCacheInfo info = ResponseCacheInfo.Parse(head, fields);
        if (_cacheRequest.IsUnsafe)
        {
            if (response.Status < 400)
            {
                Invalidate(head, fields, info);
            }

            return;
        }

        if (!_cacheRequest.IsGet || response.Status == 304)
        {
            // A 304 to the client's own conditional request says nothing new about what is stored.
            return;
        }

        if (_stale is not null)
        {
            Metrics.CacheRevalidated(notModified: false, 0);
        }

        StoreVerdict verdict = CachePolicy.CanStore(_cacheRequest, response.Status, info);
        long responseTime = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        long lifetime = verdict == StoreVerdict.Store
            ? CachePolicy.FreshnessLifetime(info, response.Status, responseTime, (long)cache.Options.HeuristicMaxAge.TotalSeconds)
            : 0;
        // A body with a transfer coding other than chunked cannot be decoded here, so it is not kept.
        bool framingKnown = !response.Headers.HasTransferEncoding || response.Headers.OnlyChunked;
        CacheEntry? template = verdict == StoreVerdict.Store && (lifetime > 0 || info.HasValidator) && framingKnown
            ? CreateTemplate(head, response.Status, fields, info, lifetime, responseTime, originTime)
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
        if (!_fill!.Begin(template, _storedHead.WrittenSpan, contentLength))
        {
            // Too large to keep: what was stored for this URI is outdated by this response all the same.
            RemoveCurrent();
        }
    }

    private void RemoveCurrent()
    {
        if (_proxy.Cache!.Remove(_key.AsSpan(0, _keyLength)))
        {
            Metrics.CacheInvalidated();
        }
    }

    /// <summary>Everything of a new entry but its bytes: key, times and freshness, validators, Vary (null when it cannot be stored).</summary>
    private CacheEntry? CreateTemplate(ReadOnlySpan<byte> head, int status, ReadOnlySpan<HeaderField> fields, in ResponseCacheInfo info, long lifetime, long responseTime, TimeSpan originTime)
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

            if (HttpHeadParser.ParseRequest(_staged.WrittenSpan, _requestFields, out RequestHead forwarded) != HttpParseError.None)
            {
                return null;
            }

            ReadOnlySpan<HeaderField> requestFields = _requestFields.AsSpan(0, forwarded.Headers.Count);
            Span<byte> scratch = stackalloc byte[1024];
            varyNames = [.. names];
            varyValues = new byte[]?[varyNames.Length];
            for (int i = 0; i < varyNames.Length; i++)
            {
                int length = CacheEntry.CombinedValue(_staged.WrittenSpan, requestFields, varyNames[i], scratch);
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
            OriginAddress = _origin!.Address,
        };
    }

    /// <summary>
    /// RFC 9111 §4.4: a non-error response to an unsafe method invalidates the target URI, and the URIs in
    /// Location and Content-Location when they are on the same host (so a third party cannot purge others').
    /// </summary>
    private void Invalidate(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, in ResponseCacheInfo info)
    {
        HttpCache cache = _proxy.Cache!;
        if (cache.Remove(_key.AsSpan(0, _keyLength)))
        {
            Metrics.CacheInvalidated();
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
            else if (ProxyTarget.TryParseAbsolute(uri, out ProxyTarget location) && location.Port == _target.Port &&
                     Ascii.EqualsIgnoreCase(location.Host(uri), _host.AsSpan(0, _hostLength)))
            {
                length = CacheKey.Write(uri, location, other);
            }

            if (length > 0 && cache.Remove(other[..length]))
            {
                Metrics.CacheInvalidated();
            }
        }
    }

    /// <summary>
    /// The origin answered our validation with 304 (RFC 9111 §4.3.3-§4.3.4): freshen the stored response with
    /// the 304's fields, store it again, and answer the client from it.
    /// </summary>
    private async ValueTask<bool> ServeValidatedAsync(OriginConnection origin, int headLength, TimeSpan originTime)
    {
        CacheEntry stale = _stale!;
        ReadOnlySpan<byte> head = origin.Reader.Buffered[..headLength];
        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead response) != HttpParseError.None)
        {
            DropOrigin();
            return await RejectAsync(502, "Bad Gateway", $"origin {_lastKey} sent an invalid response head").ConfigureAwait(false);
        }

        CacheEntry fresh = Freshen(stale, head, _responseFields.AsSpan(0, response.Headers.Count), originTime);
        if (fresh != stale)
        {
            // Released with the stale one when the next request starts (or the session ends).
            _hit = fresh;
        }

        origin.Reader.Consume(headLength);
        if (response.KeepAlive)
        {
            _originBusy = false;
        }
        else
        {
            DropOrigin();
        }

        Metrics.CacheRevalidated(notModified: true, _request.IsHead ? 0 : fresh.Body.Length);
        return await ServeStoredAsync(fresh).ConfigureAwait(false);
    }

    /// <summary>The stored response updated by a 304's fields, stored again when it still may be (RFC 9111 §4.3.4).</summary>
    private CacheEntry Freshen(CacheEntry stale, ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, TimeSpan originTime)
    {
        HttpCache cache = _proxy.Cache!;
        // The stored head (plus the empty line) parsed again; its fields are ours, so it parses.
        byte[] storedHead = new byte[stale.Head.Length + 2];
        stale.Head.CopyTo(storedHead);
        "\r\n"u8.CopyTo(storedHead.AsSpan(stale.Head.Length));
        HeaderField[] scratch = new HeaderField[(_responseFields.Length * 2) + 8];
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
            Metrics.CacheInvalidated();
        }

        return fresh;
    }

    private async ValueTask TunnelAsync()
    {
        Socket upstream;
        try
        {
            IPAddress[] addresses = await ResolveTargetAsync().ConfigureAwait(false);
            (upstream, _) = await _proxy.Connector.ConnectAsync(addresses, _target.Port, _destinations, _cts, _stopping).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            await OriginFailedAsync(e).ConfigureAwait(false);
            return;
        }

        using Socket origin = upstream;
        using SocketReader originReader = new(origin, _proxy.Options.BufferSize);
        _response.Write("HTTP/1.1 200 Connection established\r\n"u8);
        _response.Write(HeadWriter.ViaLine);
        _response.Write("\r\n"u8);
        await _response.FlushAsync(_cts.Token).ConfigureAwait(false);
        Metrics.Request(200);
        Metrics.TunnelOpened();
        try
        {
            await RelayAsync(origin, originReader).ConfigureAwait(false);
        }
        finally
        {
            Metrics.TunnelClosed();
        }
    }

    /// <summary>
    /// Relays bytes both ways until each side has closed, passing a half-close on (RFC 9110 §9.3.6 for CONNECT,
    /// §7.8 after a 101); bytes already buffered on either side go first. Idle for tunnelIdleTimeoutSeconds ends it.
    /// </summary>
    private async Task RelayAsync(Socket origin, SocketReader originReader)
    {
        IdleDeadline idle = new(_cts, _proxy.Options.TunnelIdleTimeout);
        Task up = PumpAsync(_client, origin, _socket, idle);
        Task down = PumpAsync(originReader, _socket, origin, idle);
        await Task.WhenAll(up, down).ConfigureAwait(false);
    }

    private async Task PumpAsync(SocketReader from, Socket to, Socket fromSocket, IdleDeadline idle)
    {
        try
        {
            while (true)
            {
                if (from.Count == 0)
                {
                    idle.Touch();
                    if (await from.FillAsync(idle.Token).ConfigureAwait(false) == 0)
                    {
                        break;
                    }
                }

                ReadOnlyMemory<byte> data = from.BufferedMemory;
                while (!data.IsEmpty)
                {
                    int sent = await to.SendAsync(data, SocketFlags.None, idle.Token).ConfigureAwait(false);
                    if (to == _socket)
                    {
                        _tunnelSent += sent;
                    }

                    data = data[sent..];
                }

                from.Consume(from.Count);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side failed: end both so the other pump stops too.
            Abort(to);
            Abort(fromSocket);
        }
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private async ValueTask<(OriginConnection Connection, bool Reused)> AcquireOriginAsync()
    {
        // An upgrade request gets a new connection of its own: after a 101 the connection belongs to the new
        // protocol for good, so neither the kept nor a pooled (warm, reusable) one is spent on it.
        bool fresh = _request.IsUpgrade;
        bool sameOrigin = IsSameAsLast();
        if (_origin is not null)
        {
            if (!fresh && sameOrigin && _origin.IsUsable())
            {
                Metrics.OriginConnection(reused: true);
                _originBusy = true;
                return (_origin, true);
            }

            ReleaseOrigin();
        }

        if (!sameOrigin)
        {
            RememberTarget();
        }

        if (!fresh && _proxy.Pool.TryTake(_lastKey, out OriginConnection? pooled) && !IsDenied(pooled!))
        {
            _origin = pooled!;
            Metrics.OriginConnection(reused: true);
            _originBusy = true;
            return (_origin, true);
        }

        IPAddress[] addresses = await ResolveTargetAsync().ConfigureAwait(false);
        (Socket socket, NetAddress address) = await _proxy.Connector.ConnectAsync(addresses, _target.Port, _destinations, _cts, _stopping).ConfigureAwait(false);
        _origin = new OriginConnection(socket, address, _lastKey, _proxy.Options.BufferSize);
        Metrics.OriginConnection(reused: false);
        _originBusy = true;
        return (_origin, false);
    }

    /// <summary>
    /// A pooled connection another client opened (a local one, or one admitted under other rules) serves this
    /// client only when its policy allows the address; otherwise it goes back to the pool for others.
    /// </summary>
    private bool IsDenied(OriginConnection pooled)
    {
        if (_destinations is null || _destinations.IsAllowed(pooled.Address, out _))
        {
            return false;
        }

        _proxy.Pool.Return(pooled);
        return true;
    }

    private bool IsSameAsLast() =>
        _lastHostLength == _hostLength && _lastPort == _target.Port &&
        Ascii.EqualsIgnoreCase(_lastHost.AsSpan(0, _lastHostLength), _host.AsSpan(0, _hostLength));

    private void RememberTarget()
    {
        _host.AsSpan(0, _hostLength).CopyTo(_lastHost);
        _lastHostLength = _hostLength;
        _lastPort = _target.Port;
        _lastHostText = Encoding.ASCII.GetString(_host, 0, _hostLength);
        _lastKey = _lastHostText.Contains(':') ? $"[{_lastHostText}]:{_target.Port}" : $"{_lastHostText}:{_target.Port}";
        _lastAddresses = null;
    }

    /// <summary>The addresses of the current target, from the last lookup when it is the same name and recent.</summary>
    private async ValueTask<IPAddress[]> ResolveTargetAsync()
    {
        if (!IsSameAsLast())
        {
            RememberTarget();
        }

        // Names are looked up again after 30 s so a long keep-alive session follows DNS changes.
        if (_lastAddresses is null || Environment.TickCount64 - _lastResolvedAt > 30_000)
        {
            _lastAddresses = await _proxy.Connector.ResolveAsync(_lastHostText, _cts.Token).ConfigureAwait(false);
            _lastResolvedAt = Environment.TickCount64;
        }

        return _lastAddresses;
    }

    private void ReleaseOrigin()
    {
        if (_origin is null)
        {
            return;
        }

        if (_originBusy)
        {
            DropOrigin();
            return;
        }

        _proxy.Pool.Return(_origin);
        _origin = null;
    }

    private void DropOrigin()
    {
        _origin?.Dispose();
        _origin = null;
        _originBusy = false;
    }

    /// <summary>Stops a request body still being streamed (the exchange failed) and waits for it to let go of the buffers.</summary>
    private async ValueTask AbandonBodyAsync(Task<BodyResult>? bodyTask)
    {
        if (bodyTask is null)
        {
            return;
        }

        if (!bodyTask.IsCompleted)
        {
            Abort(_socket);
            DropOrigin();
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

    private async ValueTask<bool> OriginFailedAsync(OriginException e)
    {
        switch (e.Status)
        {
            case 403:
                Metrics.DestinationDenied();
                if (_proxy.Warnings.ShouldLog(WarningKind.DestinationDenied))
                {
                    HttpProxyLog.DestinationDenied(Logger, ClientText, _lastKey, e.DeniedBy ?? string.Empty);
                }

                return await RejectAsync(403, "Forbidden", $"destination {_lastKey}: {e.Message}").ConfigureAwait(false);
            case 504:
                if (_proxy.Warnings.ShouldLog(WarningKind.OriginTimeout))
                {
                    HttpProxyLog.OriginTimeout(Logger, _lastKey, e.Message);
                }

                break;
            default:
                if (_proxy.Warnings.ShouldLog(WarningKind.OriginUnreachable))
                {
                    HttpProxyLog.OriginUnreachable(Logger, _lastKey, e.Message);
                }

                break;
        }

        return await RejectAsync(e.Status, ReasonPhrase(e.Status), $"origin {_lastKey}: {e.Message}").ConfigureAwait(false);
    }

    /// <summary>Answers with an error generated here and ends the connection (its framing may be unknown now).</summary>
    private async ValueTask<bool> RejectAsync(int status, string reason, string message)
    {
        if (status is 400 or 431 or 505 && Logger.IsEnabled(LogLevel.Debug))
        {
            HttpProxyLog.BadRequest(Logger, ClientText, message, status);
        }

        await SendErrorAsync(status, reason, message).ConfigureAwait(false);
        return false;
    }

    private async ValueTask SendErrorAsync(int status, string reason, string message)
    {
        _response.Discard();
        HeadWriter.WriteStatus(_response, status, reason, message);
        Metrics.Request(status);
        using CancellationTokenSource timeout = new(TimeSpan.FromSeconds(5));
        try
        {
            await _response.FlushAsync(timeout.Token).ConfigureAwait(false);
            // Half-close so the client reads the answer before it sees the connection end.
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone; nothing more to tell it.
        }
    }

    /// <summary>
    /// Reads until a whole head is buffered; returns its length or a Head* code. The first byte may take
    /// <paramref name="firstByteTimeout"/>; once a head has started it must complete within
    /// <paramref name="headTimeout"/>, so a client sending a byte at a time cannot hold a slot.
    /// </summary>
    private async ValueTask<int> ReadHeadAsync(SocketReader reader, TimeSpan firstByteTimeout, TimeSpan headTimeout, bool skipEmptyLines, bool isClient)
    {
        int scanned = 0;
        int limit = Math.Min(_maxHeadBytes, reader.Capacity);
        bool started = reader.Count > 0;
        _cts.CancelAfter(started ? headTimeout : firstByteTimeout);
        while (true)
        {
            if (skipEmptyLines && scanned == 0)
            {
                // RFC 9112 §2.2: ignore empty lines before a request line.
                while (reader.Count >= 2 && reader.Buffered[0] == (byte)'\r' && reader.Buffered[1] == (byte)'\n')
                {
                    reader.Consume(2);
                }
            }

            int end = HttpHeadParser.FindHeadEnd(reader.Buffered, scanned);
            if (end > 0)
            {
                return end <= limit ? end : HeadTooLarge;
            }

            if (reader.Count >= limit || reader.IsFull)
            {
                return HeadTooLarge;
            }

            if (isClient && HttpHeadParser.HasBareLineBreak(reader.Buffered[scanned..]))
            {
                // Lines that end in a bare LF never make the CRLF CRLF the head is looked for by: refuse now
                // rather than wait for the head timeout.
                return HeadBareLineBreak;
            }

            scanned = reader.Count;
            int received;
            try
            {
                received = await reader.FillAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (isClient && !_stopping.IsCancellationRequested && reader.Count > 0)
            {
                // RFC 9110 §15.5.9: the client started a request and did not finish it in time.
                await SendErrorAsync(408, "Request Timeout", "the request head was not received in time (requestHeadersTimeoutSeconds)").ConfigureAwait(false);
                return HeadEof;
            }

            if (received == 0)
            {
                return reader.Count == 0 ? HeadEof : HeadTruncated;
            }

            if (!started)
            {
                started = true;
                _cts.CancelAfter(headTimeout);
            }
        }
    }

    private void ReportBytes()
    {
        long received = _client.BytesReceived;
        long sent = _response.BytesSent + _tunnelSent;
        Metrics.ClientBytes(received - _reportedReceived, sent - _reportedSent);
        _reportedReceived = received;
        _reportedSent = sent;
    }

    private void LogEnded(string reason)
    {
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            HttpProxyLog.ConnectionEnded(Logger, ClientText, reason);
        }
    }

    private static string ReasonPhrase(int status) => status switch
    {
        400 => "Bad Request",
        403 => "Forbidden",
        501 => "Not Implemented",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };

    public void Dispose()
    {
        // Pooled only when the last exchange ended cleanly.
        ReleaseOrigin();
        _fill?.Abandon();
        ReleaseCacheEntries();

        _cts.Dispose();
        _client.Dispose();
        _response.Dispose();
    }
}
