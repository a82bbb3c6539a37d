using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Wire;
using Gateway.Sdk.Handlers;
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
        _requestFields = new HeaderField[proxy.Options.MaxHeaderCount];
        _responseFields = new HeaderField[proxy.Options.MaxHeaderCount];
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
                HttpProxyLog.ClientDenied(Logger, ClientText);
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

        return await ForwardAsync().ConfigureAwait(false);
    }

    /// <summary>Parses the head in the receive buffer and stages the origin-form head; 0 or the status to answer.</summary>
    private int PrepareRequest(int headLength)
    {
        ReadOnlySpan<byte> head = _client.Buffered[..headLength];
        HttpParseError error = HttpHeadParser.ParseRequest(head, _requestFields, out _request);
        switch (error)
        {
            case HttpParseError.Malformed:
                _error = "malformed request (request line or header fields, RFC 9112)";
                return 400;
            case HttpParseError.ConflictingLength:
                _error = "conflicting message framing (Content-Length / Transfer-Encoding, RFC 9112 section 6.3)";
                return 400;
            case HttpParseError.TooManyHeaders:
                _error = $"more than {_requestFields.Length} header fields (maxHeaderCount)";
                return 431;
            case HttpParseError.UnsupportedVersion:
                _error = "only HTTP/1.0 and HTTP/1.1 are supported";
                return 505;
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

        bool portAllowed = _request.IsConnect ? _proxy.Access.IsConnectPortAllowed(_target.Port) : _proxy.Access.IsPortAllowed(_target.Port);
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
            _staged.ResetWrittenCount();
            HeadWriter.WriteRequest(_staged, head, _request, _requestFields.AsSpan(0, _request.Headers.Count), _target);
        }

        _client.Consume(headLength);
        return 0;
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
                HttpProxyLog.OriginTimeout(Logger, originText, "no response head");
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

        Metrics.OriginLatency(Stopwatch.GetElapsedTime(started).TotalSeconds);
        ResponsePlan plan = PrepareResponse(origin, headLength);
        if (plan.Status == 0)
        {
            DropOrigin();
            await AbandonBodyAsync(bodyTask).ConfigureAwait(false);
            return await RejectAsync(502, "Bad Gateway", $"origin {_lastKey} sent an invalid response head").ConfigureAwait(false);
        }

        BodyResult relayed = plan.Framing switch
        {
            ResponseFraming.None => BodyResult.Complete,
            ResponseFraming.Length => await BodyRelay.CopyLengthAsync(origin.Reader, _response, plan.Length, idle).ConfigureAwait(false),
            ResponseFraming.Chunked => await BodyRelay.CopyChunkedAsync(origin.Reader, _response, decode: _request.MinorVersion == 0, idle).ConfigureAwait(false),
            _ => await BodyRelay.CopyToEndAsync(origin.Reader, _response, idle).ConfigureAwait(false),
        };
        idle.Touch();
        await _response.FlushAsync(idle.Token).ConfigureAwait(false);
        Metrics.Request(plan.Status);

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
        while (true)
        {
            int length = await ReadHeadAsync(origin.Reader, timeout, timeout, skipEmptyLines: false, isClient: false).ConfigureAwait(false);
            if (length < 0 || !RelayInterim(origin.Reader, length))
            {
                return length;
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
            // Not 1xx, or 101 (we never forward Upgrade, so a 101 is an origin error handled as invalid).
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
    private ResponsePlan PrepareResponse(OriginConnection origin, int headLength)
    {
        ReadOnlySpan<byte> head = origin.Reader.Buffered[..headLength];
        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead response) != HttpParseError.None || response.Status < 200)
        {
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

        bool http10Client = _request.MinorVersion == 0;
        plan.CloseClient = !_request.KeepAlive || plan.Framing == ResponseFraming.ToClose || (http10Client && plan.Framing == ResponseFraming.Chunked);
        bool chunkedToClient = plan.Framing == ResponseFraming.Chunked && !http10Client;
        HeadWriter.WriteResponse(_response, head, response, _responseFields.AsSpan(0, response.Headers.Count), chunkedToClient, plan.CloseClient, keepAlive: http10Client && !plan.CloseClient);
        origin.Reader.Consume(headLength);
        return plan;
    }

    private async ValueTask TunnelAsync()
    {
        Socket upstream;
        try
        {
            IPAddress[] addresses = await ResolveTargetAsync().ConfigureAwait(false);
            upstream = await _proxy.Connector.ConnectAsync(addresses, _target.Port, _cts, _stopping).ConfigureAwait(false);
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
            IdleDeadline idle = new(_cts, _proxy.Options.TunnelIdleTimeout);
            // RFC 9110 §9.3.6: relay both ways until each side closes; a half-close is passed on.
            Task up = PumpAsync(_client, origin, _socket, idle);
            Task down = PumpAsync(originReader, _socket, origin, idle);
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        finally
        {
            Metrics.TunnelClosed();
        }
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
        bool sameOrigin = IsSameAsLast();
        if (_origin is not null)
        {
            if (sameOrigin && _origin.IsUsable())
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

        if (_proxy.Pool.TryTake(_lastKey, out OriginConnection? pooled))
        {
            _origin = pooled!;
            Metrics.OriginConnection(reused: true);
            _originBusy = true;
            return (_origin, true);
        }

        IPAddress[] addresses = await ResolveTargetAsync().ConfigureAwait(false);
        Socket socket = await _proxy.Connector.ConnectAsync(addresses, _target.Port, _cts, _stopping).ConfigureAwait(false);
        _origin = new OriginConnection(socket, _lastKey, _proxy.Options.BufferSize);
        Metrics.OriginConnection(reused: false);
        _originBusy = true;
        return (_origin, false);
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
        if (e.Status == 504)
        {
            HttpProxyLog.OriginTimeout(Logger, _lastKey, e.Message);
        }
        else
        {
            HttpProxyLog.OriginUnreachable(Logger, _lastKey, e.Message);
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

        _cts.Dispose();
        _client.Dispose();
        _response.Dispose();
    }
}
