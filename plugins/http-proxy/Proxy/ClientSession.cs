using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
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
/// Split along its seams: this file reads requests and answers errors; <c>ClientSession.Forward.cs</c> forwards a
/// request and relays the response, <c>ClientSession.Tunnel.cs</c> turns the connection into a tunnel (CONNECT,
/// 101), <c>ClientSession.Cache.cs</c> answers from the cache. Origin connections are leased through
/// <see cref="OriginLease"/>, the cache through <see cref="CacheExchange"/>.
/// Everything a request needs lives in fields reused across requests (head field arrays, the staged
/// origin head, the last origin's name and addresses), so a keep-alive request to the same origin
/// allocates nothing here beyond what the socket calls do.
/// </remarks>
internal sealed partial class ClientSession : IDisposable
{
    private const int HeadEof = -1;
    private const int HeadTooLarge = -2;
    private const int HeadTruncated = -3;
    private const int HeadBareLineBreak = -4;

    // More interim (1xx) responses than this before the final one end the exchange: an origin that sends them
    // forever would otherwise hold the client past every timeout (each head re-arms the response timeout).
    private const int MaxInterimResponses = 16;

    private readonly HttpProxyHandler _proxy;
    private readonly ProxyRules _rules;
    private readonly StreamConnection _connection;
    private readonly Socket _socket;
    private readonly SocketReader _client;
    private readonly SocketWriter _response;
    private readonly CancellationTokenSource _cts;
    private readonly CancellationToken _stopping;
    private readonly HeaderField[] _requestFields;
    private readonly HeaderField[] _responseFields;
    private readonly ArrayBufferWriter<byte> _staged = new(1024);
    private readonly int _maxHeadBytes;
    private readonly OriginLease _origin;

    // The shared cache's view of the current request; null when the cache is off.
    private readonly CacheExchange? _cache;

    // Whether the client is on this host, and the destination policy it is held to (null: none, a local client
    // could connect anywhere itself). Fixed at admission: a reload changes the rules for new connections only.
    private readonly bool _localClient;
    private readonly DestinationPolicy? _destinations;

    // Proxy authentication and the access log as they were when the connection was admitted; null when off.
    private readonly ProxyAuthenticator? _auth;
    private readonly AccessLog? _access;

    private RequestHead _request;
    private ProxyTarget _target;
    private string _error = string.Empty;
    private long _reportedReceived;
    private long _reportedSent;
    private long _tunnelSent;

    /// <param name="proxy">What all connections share: pool, connector, metrics, log.</param>
    /// <param name="rules">The rules in force when the connection was admitted; it keeps them to the end.</param>
    /// <param name="connection">The client connection.</param>
    /// <param name="stopping">Signalled when the plugin stops.</param>
    /// <param name="client">The connection's receive buffer (it may hold the first bytes already); the caller disposes it.</param>
    /// <param name="deadline">The connection's cancellation source, linked to <paramref name="stopping"/>; re-armed before each wait, disposed by the caller.</param>
    public ClientSession(HttpProxyHandler proxy, ProxyRules rules, StreamConnection connection, SocketReader client, CancellationTokenSource deadline,
        CancellationToken stopping)
    {
        _proxy = proxy;
        _rules = rules;
        _connection = connection;
        _socket = connection.Socket;
        _stopping = stopping;
        _cts = deadline;
        HttpProxyOptions options = rules.Options;
        _maxHeadBytes = options.MaxHeaderBytes;
        _client = client;
        _response = new SocketWriter(_socket, 16 * 1024) { Loop = client.Loop };
        _localClient = AccessControl.IsLocalClient(connection.Client.Address, proxy.HostAddresses);
        _destinations = _localClient ? null : rules.Destinations;
        _requestFields = new HeaderField[options.MaxHeaderCount];
        _responseFields = new HeaderField[options.MaxHeaderCount];
        _origin = new OriginLease(proxy.Pool, rules.Connector, proxy.Metrics, _destinations, rules.Parents, options.BufferSize, client.Loop?.Loop);
        _auth = proxy.Authenticator;
        _access = proxy.AccessLog;
        if (rules.Cache is not null)
        {
            _cache = new CacheExchange(rules.Cache, options.Cache, proxy.Metrics, _destinations, options.MaxHeaderCount);
        }
    }

    private ILogger Logger => _proxy.Logger;

    private HttpProxyMetrics Metrics => _proxy.Metrics;

    private string ClientText => _connection.Client.ToString();

    public async Task RunAsync()
    {
        try
        {
            if (!_rules.Access.IsClientAllowed(_connection.Client.Address))
            {
                if (_proxy.Warnings.ShouldLog(WarningKind.ClientDenied))
                {
                    HttpProxyLog.ClientDenied(Logger, ClientText);
                }

                RequestStarted();
                await SendErrorAsync(403, "Forbidden", "this client address may not use the proxy (allowClients/denyClients)").ConfigureAwait(false);
                WriteAccessLog();
                return;
            }

            bool more = true;
            while (more)
            {
                try
                {
                    more = await ServeOneAsync().ConfigureAwait(false);
                }
                finally
                {
                    WriteAccessLog();
                }

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
        int headLength = await ReadHeadAsync(_client, _rules.Options.KeepAliveTimeout, _rules.Options.RequestHeadersTimeout, skipEmptyLines: true, isClient: true).ConfigureAwait(false);
        if (headLength == HeadEof)
        {
            return false;
        }

        RequestStarted();

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
        if (status == NeedsAuthentication)
        {
            if (!await AuthenticateAsync(headLength).ConfigureAwait(false))
            {
                return await ChallengeAsync().ConfigureAwait(false);
            }

            status = PrepareRequest(headLength);
        }

        if (status != 0)
        {
            return await RejectAsync(status, ReasonPhrase(status), _error).ConfigureAwait(false);
        }

        if (_request.IsConnect)
        {
            await TunnelAsync().ConfigureAwait(false);
            return false;
        }

        if (_cache?.Hit is { } hit)
        {
            Metrics.CacheHit(_request.IsHead ? 0 : hit.Body.Length);
            return await ServeStoredAsync(hit).ConfigureAwait(false);
        }

        if (_cache?.Waiting is not null)
        {
            return await ServeCollapsedAsync(headLength).ConfigureAwait(false);
        }

        return await ForwardAsync().ConfigureAwait(false);
    }

    /// <summary>Parses the head in the receive buffer and stages the origin-form head; 0 or the status to answer.</summary>
    private int PrepareRequest(int headLength)
    {
        _cache?.Reset();
        ReadOnlySpan<byte> head = _client.Buffered[..headLength];
        HttpParseError error = HttpHeadParser.ParseRequest(head, _requestFields, out _request);
        if (error != HttpParseError.None)
        {
            _error = HttpParseErrors.Describe(error, _requestFields.Length);
            return HttpParseErrors.Status(error);
        }

        NoteRequest(head);
        ReadOnlySpan<byte> target = _request.Target(head);
        bool parsed = _request.IsConnect ? ProxyTarget.TryParseConnect(target, out _target) : ProxyTarget.TryParseAbsolute(target, out _target);
        if (!parsed)
        {
            _error = _request.IsConnect
                ? "CONNECT needs host:port (RFC 9110 section 9.3.6)"
                : "this is a forward proxy: the request needs an absolute http:// URI (use CONNECT for https)";
            return 400;
        }

        if (!IsAuthorized(head))
        {
            return NeedsAuthentication;
        }

        ReadOnlySpan<byte> host = _target.Host(target);
        if (host.Length > OriginLease.MaxHostLength)
        {
            _error = "host name too long";
            return 400;
        }

        bool portAllowed = _request.IsConnect
            ? _rules.Access.IsConnectPortAllowed(_target.Port, _localClient)
            : _rules.Access.IsPortAllowed(_target.Port);
        if (!portAllowed)
        {
            HttpProxyLog.PortDenied(Logger, ClientText, _target.Port);
            _error = $"destination port {_target.Port} is not allowed by this proxy";
            return 403;
        }

        _origin.SetTarget(host, _target.Port);
        if (!_request.IsConnect)
        {
            if (_cache is not null && _cache.LookUp(head, _request, _requestFields.AsSpan(0, _request.Headers.Count), target, _target))
            {
                _client.Consume(headLength);
                return 0;
            }

            if (_cache is not null && _cache.OnlyIfCachedMiss)
            {
                // RFC 9111 §5.2.1.7: nothing stored may answer as is, and the client does not want the origin asked.
                _error = "only-if-cached: no stored response for this request";
                return 504;
            }

            if (_cache?.Waiting is not null)
            {
                // Another request is fetching this URL: the head stays in the receive buffer while this one waits for
                // it, to be looked up again afterwards (ServeCollapsedAsync).
                return 0;
            }

            StageRequest(head);
        }

        _client.Consume(headLength);
        return 0;
    }

    /// <summary>Writes the origin-form head of the current request (with the validators of a stale entry) to send.</summary>
    private void StageRequest(ReadOnlySpan<byte> head)
    {
        _staged.ResetWrittenCount();
        HeadWriter.WriteRequest(_staged, head, _request, _requestFields.AsSpan(0, _request.Headers.Count), _target,
            _cache?.Stale is null ? default : _cache.StaleValidators());
    }

    private async ValueTask<bool> OriginFailedAsync(OriginException e)
    {
        switch (e.Status)
        {
            case 403:
                Metrics.DestinationDenied();
                if (_proxy.Warnings.ShouldLog(WarningKind.DestinationDenied))
                {
                    HttpProxyLog.DestinationDenied(Logger, ClientText, _origin.Key, e.DeniedBy ?? string.Empty);
                }

                return await RejectAsync(403, "Forbidden", $"destination {_origin.Key}: {e.Message}").ConfigureAwait(false);
            case 504:
                if (_proxy.Warnings.ShouldLog(WarningKind.OriginTimeout))
                {
                    HttpProxyLog.OriginTimeout(Logger, _origin.Key, e.Message);
                }

                break;
            default:
                if (_proxy.Warnings.ShouldLog(WarningKind.OriginUnreachable))
                {
                    HttpProxyLog.OriginUnreachable(Logger, _origin.Key, e.Message);
                }

                break;
        }

        return await RejectAsync(e.Status, ReasonPhrase(e.Status), $"origin {_origin.Key}: {e.Message}").ConfigureAwait(false);
    }

    /// <summary>Answers with an error generated here and ends the connection (its framing may be unknown now).</summary>
    private async ValueTask<bool> RejectAsync(int status, string reason, string message, string? extraHeader = null)
    {
        if (status is 400 or 431 or 505 && Logger.IsEnabled(LogLevel.Debug))
        {
            HttpProxyLog.BadRequest(Logger, ClientText, message, status);
        }

        await SendErrorAsync(status, reason, message, extraHeader).ConfigureAwait(false);
        return false;
    }

    private async ValueTask SendErrorAsync(int status, string reason, string message, string? extraHeader = null)
    {
        // An error made here is never stored: requests waiting for this one's fetch ask the origin themselves.
        _cache?.AbandonFetch();
        _response.Discard();
        HeadWriter.WriteStatus(_response, status, reason, message, extraHeader);
        Answered(status);
        _result = status switch
        {
            403 or 407 => "TCP_DENIED",
            400 or 408 or 431 or 501 or 505 => "NONE",
            _ => _result,
        };
        using CancellationTokenSource timeout = new(TimeSpan.FromSeconds(5));
        using CancellationTokenRegistration bound = BoundOnLoop(timeout.Token);
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
    /// For a client on an epoll loop: lets an error answer be sent after the deadline fired (a 408, a 504), which
    /// aborted the loop socket for good, and bounds it by <paramref name="timeout"/> as the token bounds a send on
    /// System.Net.Sockets. Not when the plugin is stopping.
    /// </summary>
    private CancellationTokenRegistration BoundOnLoop(CancellationToken timeout)
    {
        if (_client.Loop is not { } loop)
        {
            return default;
        }

        if (_cts.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            loop.Resume();
        }

        return timeout.UnsafeRegister(LoopSocket.AbortCallback, loop);
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
        _origin.Dispose();
        _cache?.Dispose();
        _response.Dispose();
    }
}
