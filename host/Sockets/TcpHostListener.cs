using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>
/// A plugin's stream handler on a TCP host socket: an accept loop, a limit on open connections (new ones over the
/// limit are closed at once), the idle timeout handed to each <see cref="StreamConnection"/>, each connection run
/// through the plugin's <see cref="PluginHandlerGuard"/>, and a bounded clean shutdown.
/// </summary>
internal sealed class TcpHostListener : IDisposable
{
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly PluginHandlerGuard _guard;
    private readonly IStreamHandler _handler;
    private readonly LimitsOptions _limits;
    private readonly ILogger _logger;
    private readonly Counter<long> _rejected;
    private readonly KeyValuePair<string, object?> _pluginTag;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private Task _loop = Task.CompletedTask;
    private int _active;
    private long _nextLimitLog;

    public TcpHostListener(NetEndpoint endpoint, PluginHandlerGuard guard, IStreamHandler handler, LimitsOptions limits, ILogger logger, Counter<long> rejected)
    {
        _guard = guard;
        _handler = handler;
        _limits = limits;
        _logger = logger;
        _rejected = rejected;
        _pluginTag = new KeyValuePair<string, object?>("plugin", guard.PluginId);
        _listener = new Socket(endpoint.Address.Family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.Address.IsV6)
            {
                _listener.DualMode = false;
            }

            _listener.Bind(endpoint.ToIPEndPoint());
            _listener.Listen(512);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }

        Local = NetEndpoint.FromIPEndPoint((IPEndPoint)_listener.LocalEndPoint!);
    }

    /// <summary>The bound endpoint (with the real port when 0 was asked for).</summary>
    public NetEndpoint Local { get; }

    /// <summary>Connections being served now.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    public void Start() => _loop = Task.Run(AcceptLoopAsync);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try
        {
            _loop.Wait(ShutdownGrace);
        }
        catch (AggregateException)
        {
            // Ends by cancellation or the closed socket.
        }

        // Handlers saw the cancellation; give them a moment to finish, then close what is left.
        long deadline = Environment.TickCount64 + (long)ShutdownGrace.TotalMilliseconds;
        while (Volatile.Read(ref _active) > 0 && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(20);
        }

        int left = 0;
        foreach (Socket socket in _open.Keys)
        {
            left++;
            socket.Dispose();
        }

        if (left > 0)
        {
            SocketsLog.ConnectionsAbandoned(_logger, _guard.PluginId, new NetEndpointText(Local), left);
        }

        SocketsLog.Closed(_logger, _guard.PluginId, "tcp", new NetEndpointText(Local));
    }

    private async Task AcceptLoopAsync()
    {
        CancellationToken token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || token.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException ex)
            {
                // ECONNABORTED and friends: the client left before accept; EMFILE: back off briefly.
                SocketsLog.ReceiveFailed(_logger, _guard.PluginId, "tcp", new NetEndpointText(Local), ex.SocketErrorCode.ToString());
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            if (Interlocked.Increment(ref _active) > _limits.MaxConnections)
            {
                Interlocked.Decrement(ref _active);
                _rejected.Add(1, _pluginTag);
                long now = Environment.TickCount64;
                if (now >= Interlocked.Read(ref _nextLimitLog))
                {
                    Interlocked.Exchange(ref _nextLimitLog, now + 10_000);
                    SocketsLog.ConnectionLimitReached(_logger, _guard.PluginId, new NetEndpointText(Local), _limits.MaxConnections);
                }

                socket.Dispose();
                continue;
            }

            _ = ServeAsync(socket, token);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken token)
    {
        _open.TryAdd(socket, 0);
        try
        {
            socket.NoDelay = true;
            NetEndpoint client = NetEndpoint.FromIPEndPoint((IPEndPoint)socket.RemoteEndPoint!);
            var connection = new StreamConnection(socket, client, Local, PacketOrigin.HostSocket, _limits.IdleTimeout);
            await _guard.RunStreamAsync(_handler, connection, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client reset before we read its address.
            socket.Dispose();
        }
        finally
        {
            _open.TryRemove(socket, out _);
            Interlocked.Decrement(ref _active);
        }
    }
}
