using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Observability;

/// <summary>
/// The admin listener (<c>host.admin.listen</c>): GET /metrics (Prometheus text 0.0.4), /healthz and /readyz.
/// A minimal HTTP/1.1 server on a socket — one request per connection, answered with "Connection: close" —
/// because ASP.NET Core would cost tens of MB for three endpoints, and HttpListener wants URL prefixes
/// rather than one address:port. Bad requests get 400, other methods 405, unknown paths 404; nothing a
/// client sends reaches the host as an exception.
/// </summary>
internal sealed class AdminServer : IAsyncDisposable
{
    /// <summary>Connections served at once; more are closed on accept (a scraper needs one).</summary>
    public const int MaxConnections = 16;

    /// <summary>Request line plus headers; a larger head is answered with 400.</summary>
    public const int MaxRequestHeadBytes = 8192;

    /// <summary>A client must send its whole request head within this time.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan LimitLogInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);
    private const int MaxLingerBytes = 64 * 1024;

    private readonly NetEndpoint _listen;
    private readonly MetricsCollector _metrics;
    private readonly Func<bool> _isReady;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<Socket, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _socket;
    private Task? _acceptLoop;
    private string _endpointText;
    private long _nextLimitLog;

    public AdminServer(NetEndpoint listen, MetricsCollector metrics, Func<bool> isReady, ILogger logger)
    {
        _listen = listen;
        _metrics = metrics;
        _isReady = isReady;
        _logger = logger;
        _endpointText = listen.ToString();
        LocalEndpoint = listen;
    }

    /// <summary>The bound endpoint after <see cref="StartAsync"/> (port 0 resolved to the real port).</summary>
    public NetEndpoint LocalEndpoint { get; private set; }

    /// <summary>Binds and starts accepting.</summary>
    /// <exception cref="InvalidOperationException">The address cannot be bound (in use, not local); the message says which.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_socket is not null)
        {
            throw new InvalidOperationException("the admin listener is already started");
        }

        IPEndPoint endpoint = _listen.ToIPEndPoint();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Lets a restarted gateway bind again while old connections sit in TIME_WAIT. Set raw: .NET's ReuseAddress
            // also sets SO_REUSEPORT on Linux, which would let a second gateway share (and steal) the port.
            if (OperatingSystem.IsLinux())
            {
                const int SolSocket = 1;
                const int SoReuseAddr = 2;
                socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            }

            socket.Bind(endpoint);
            socket.Listen(MaxConnections);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            ObservabilityLog.AdminBindFailed(_logger, _endpointText, ex.Message);
            throw new InvalidOperationException($"admin listener {_endpointText}: {ex.Message}", ex);
        }

        _socket = socket;
        LocalEndpoint = NetEndpoint.FromIPEndPoint((IPEndPoint)socket.LocalEndPoint!);
        _endpointText = LocalEndpoint.ToString();
        _acceptLoop = AcceptLoopAsync(socket);
        ObservabilityLog.AdminListening(_logger, _endpointText);
        return Task.CompletedTask;
    }

    /// <summary>Stops accepting, aborts open connections and waits for them (at most until <paramref name="cancellationToken"/> fires).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Socket? socket = Interlocked.Exchange(ref _socket, null);
        if (socket is null)
        {
            return;
        }

        _stopping.Cancel();
        socket.Dispose();
        foreach (Socket connection in _connections.Keys)
        {
            connection.Dispose();
        }

        try
        {
            Task[] pending = [_acceptLoop!, .. _connections.Values];
            await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The host's stop timeout expired; connections end on their own as their sockets are closed.
        }

        ObservabilityLog.AdminStopped(_logger, _endpointText);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        CancellationToken stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Transient (ECONNABORTED, EMFILE): keep the listener alive, but do not spin.
                ObservabilityLog.AdminAcceptFailed(_logger, _endpointText, ex.Message);
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            if (_connections.Count >= MaxConnections)
            {
                ReportLimit();
                client.Dispose();
                continue;
            }

            // Registered before it runs, so that a connection finishing at once still removes its entry.
            _connections[client] = Task.CompletedTask;
            _connections.TryUpdate(client, ServeAsync(client, stopping), Task.CompletedTask);
        }
    }

    private void ReportLimit()
    {
        long now = Environment.TickCount64;
        if (now >= Interlocked.Read(ref _nextLimitLog))
        {
            Interlocked.Exchange(ref _nextLimitLog, now + (long)LimitLogInterval.TotalMilliseconds);
            ObservabilityLog.AdminConnectionLimit(_logger, _endpointText, MaxConnections);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken stopping)
    {
        // Run the connection off the accept loop's stack.
        await Task.Yield();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxRequestHeadBytes);
        string remote = client.RemoteEndPoint?.ToString() ?? "?";
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(RequestTimeout);
            int length = await ReadHeadAsync(client, buffer, timeout.Token).ConfigureAwait(false);
            if (length == 0)
            {
                return;
            }

            Response response = length < 0 ? Response.BadRequest : Answer(buffer.AsSpan(0, length));
            await SendAsync(client, response, timeout.Token).ConfigureAwait(false);
            client.Shutdown(SocketShutdown.Send);
            await DrainAsync(client, buffer, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
            ObservabilityLog.AdminConnectionFailed(_logger, remote, ex.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            client.Dispose();
            _connections.TryRemove(client, out _);
        }
    }

    /// <summary>
    /// Lingering close: reads what the client still sends (the rest of an oversized head, a body) until it closes,
    /// for at most <see cref="LingerTime"/>. Closing with unread input would send a RST that can destroy the
    /// answer before the client reads it (RFC 9112 §9.6).
    /// </summary>
    private static async Task DrainAsync(Socket client, byte[] buffer, CancellationToken stopping)
    {
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        linger.CancelAfter(LingerTime);
        int total = 0;
        while (total < MaxLingerBytes)
        {
            int read = await client.ReceiveAsync(buffer.AsMemory(0, MaxRequestHeadBytes), SocketFlags.None, linger.Token).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            total += read;
        }
    }

    /// <summary>
    /// Reads until the blank line that ends the head. Returns the head's length, 0 when the client closed
    /// before sending anything, -1 when the head is too large or the client closed mid-head.
    /// </summary>
    private static async Task<int> ReadHeadAsync(Socket client, byte[] buffer, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < MaxRequestHeadBytes)
        {
            int read = await client.ReceiveAsync(buffer.AsMemory(filled, MaxRequestHeadBytes - filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return filled == 0 ? 0 : -1;
            }

            int searchFrom = Math.Max(0, filled - 3);
            filled += read;
            int end = HeadEnd(buffer.AsSpan(searchFrom, filled - searchFrom));
            if (end >= 0)
            {
                return searchFrom + end;
            }
        }

        return -1;
    }

    /// <summary>The index just past "\r\n\r\n" (or a bare "\n\n", RFC 9112 §2.2 tolerance), or -1.</summary>
    private static int HeadEnd(ReadOnlySpan<byte> data)
    {
        int crlf = data.IndexOf("\r\n\r\n"u8);
        int lf = data.IndexOf("\n\n"u8);
        return crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
    }

    private Response Answer(ReadOnlySpan<byte> head)
    {
        if (!HttpRequestHead.TryParse(head, out string method, out string path))
        {
            return Response.BadRequest;
        }

        bool isHead = method == "HEAD";
        if (method != "GET" && !isHead)
        {
            return Response.MethodNotAllowed;
        }

        try
        {
            Response response = path switch
            {
                "/metrics" => new Response(200, "OK", PrometheusFormatter.ContentType, Encoding.UTF8.GetBytes(PrometheusFormatter.Format(_metrics.Snapshot()))),
                "/healthz" => Response.Text(200, "OK", "ok"),
                "/readyz" => IsReady() ? Response.Text(200, "OK", "ready") : Response.Text(503, "Service Unavailable", "starting"),
                _ => Response.NotFound,
            };
            return isHead ? response with { OmitBody = true } : response;
        }
        catch (Exception ex)
        {
            ObservabilityLog.AdminHandlerFailed(_logger, _endpointText, path, ex.Message);
            return Response.Text(500, "Internal Server Error", "internal error");
        }
    }

    private bool IsReady()
    {
        try
        {
            return _isReady();
        }
        catch (Exception)
        {
            // A readiness check that throws is not ready; /readyz answers 503.
            return false;
        }
    }

    private static async Task SendAsync(Socket client, Response response, CancellationToken cancellationToken)
    {
        var head = new StringBuilder(160);
        head.Append("HTTP/1.1 ").Append(response.Status).Append(' ').Append(response.Reason).Append("\r\n");
        head.Append("Content-Type: ").Append(response.ContentType).Append("\r\n");
        head.Append("Content-Length: ").Append(response.Body.Length).Append("\r\n");
        if (response.Status == 405)
        {
            head.Append("Allow: GET, HEAD\r\n");
        }

        head.Append("Cache-Control: no-store\r\nConnection: close\r\n\r\n");
        await SendAllAsync(client, Encoding.ASCII.GetBytes(head.ToString()), cancellationToken).ConfigureAwait(false);
        if (!response.OmitBody && response.Body.Length > 0)
        {
            await SendAllAsync(client, response.Body, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task SendAllAsync(Socket client, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await client.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    private sealed record Response(int Status, string Reason, string ContentType, byte[] Body)
    {
        public static readonly Response BadRequest = Text(400, "Bad Request", "bad request");
        public static readonly Response NotFound = Text(404, "Not Found", "not found; try /metrics, /healthz or /readyz");
        public static readonly Response MethodNotAllowed = Text(405, "Method Not Allowed", "method not allowed; use GET");

        public bool OmitBody { get; init; }

        public static Response Text(int status, string reason, string body) =>
            new(status, reason, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(body));
    }
}
