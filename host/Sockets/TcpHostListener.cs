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
/// through the plugin's <see cref="PluginHandlerGuard"/>, and a bounded clean shutdown. During a plugin swap the socket
/// has two owners (<see cref="ListenerOwner"/>): new connections go to the newest, the old one's connections finish.
/// </summary>
internal sealed class TcpHostListener : IHostListener, IDisposable
{
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly ILogger _logger;
    private readonly Counter<long> _rejected;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _pluginId;
    private ListenerOwner[] _owners = [];
    private Task _loop = Task.CompletedTask;
    private long _nextLimitLog;
    private int _closed;

    public TcpHostListener(NetEndpoint endpoint, PluginHandlerGuard guard, IStreamHandler handler, LimitsOptions limits, ILogger logger, Counter<long> rejected)
    {
        _logger = logger;
        _rejected = rejected;
        _pluginId = guard.PluginId;
        _listener = new Socket(endpoint.Address.Family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.Address.IsV6)
            {
                _listener.DualMode = false;
            }

            // Linux copies TCP_NODELAY from the listening socket to every socket it accepts: set once here rather than
            // once per connection (ServeAsync sets it per connection elsewhere).
            _listener.NoDelay = true;
            _listener.Bind(endpoint.ToIPEndPoint());
            _listener.Listen(512);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }

        Local = NetEndpoint.FromIPEndPoint((IPEndPoint)_listener.LocalEndPoint!);
        First = new ListenerOwner(guard, handler, limits);
        _owners = [First];
    }

    /// <summary>The bound endpoint (with the real port when 0 was asked for).</summary>
    public NetEndpoint Local { get; }

    /// <summary>
    /// The owner the listener was created for, until it is released (then null: a released owner must not stay
    /// referenced, or its plugin's load context could never be collected).
    /// </summary>
    public ListenerOwner? First { get; private set; }

    /// <inheritdoc/>
    public bool Closed => Volatile.Read(ref _closed) != 0;

    /// <summary>Connections being served now, for every owner.</summary>
    public int ActiveConnections
    {
        get
        {
            int active = 0;
            foreach (ListenerOwner owner in Volatile.Read(ref _owners))
            {
                active += Volatile.Read(ref owner.Active);
            }

            return active;
        }
    }

    public void Start() => _loop = Task.Run(AcceptLoopAsync);

    /// <inheritdoc/>
    public bool OwnedOnlyByDraining(string pluginId)
    {
        ListenerOwner[] owners = Volatile.Read(ref _owners);
        foreach (ListenerOwner owner in owners)
        {
            if (owner.Guard.PluginId != pluginId || !owner.Guard.Draining)
            {
                return false;
            }
        }

        return owners.Length > 0;
    }

    /// <inheritdoc/>
    public void Add(ListenerOwner owner)
    {
        lock (_stop)
        {
            _owners = [.. _owners, owner];
        }
    }

    /// <inheritdoc/>
    public void StopAccepting(ListenerOwner owner)
    {
        owner.Accepting = false;
        bool anyAccepting = false;
        foreach (ListenerOwner other in Volatile.Read(ref _owners))
        {
            anyAccepting |= other.Accepting;
        }

        if (!anyAccepting)
        {
            // No version takes new connections: close the listening socket (a client now gets RST at once rather than
            // a connection nobody serves); accepted connections are separate sockets and keep running.
            _stop.Cancel();
            _listener.Dispose();
        }
    }

    /// <inheritdoc/>
    public void Release(ListenerOwner owner)
    {
        bool last;
        lock (_stop)
        {
            _owners = Array.FindAll(_owners, o => o != owner);
            if (First == owner)
            {
                First = null;
            }

            last = _owners.Length == 0;
        }

        if (last)
        {
            Dispose();
        }

        CloseConnections(owner);
    }

    /// <summary>Closes the socket and every owner's connections.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

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

        foreach (ListenerOwner owner in Interlocked.Exchange(ref _owners, []))
        {
            CloseConnections(owner);
        }

        SocketsLog.Closed(_logger, _pluginId, "tcp", new NetEndpointText(Local));
    }

    /// <summary>Tells the owner's handlers to finish, gives them a moment, then closes what is left.</summary>
    private void CloseConnections(ListenerOwner owner)
    {
        owner.Stopping.Cancel();
        long deadline = Environment.TickCount64 + (long)ShutdownGrace.TotalMilliseconds;
        while (Volatile.Read(ref owner.Active) > 0 && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(20);
        }

        int left = 0;
        foreach (Socket socket in owner.Open.Keys)
        {
            left++;
            socket.Dispose();
        }

        if (left > 0)
        {
            SocketsLog.ConnectionsAbandoned(_logger, owner.Guard.PluginId, new NetEndpointText(Local), left);
        }
    }

    /// <summary>The newest owner still accepting, or null.</summary>
    private ListenerOwner? Current()
    {
        ListenerOwner[] owners = Volatile.Read(ref _owners);
        for (int i = owners.Length - 1; i >= 0; i--)
        {
            if (owners[i].Accepting)
            {
                return owners[i];
            }
        }

        return null;
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
                SocketsLog.ReceiveFailed(_logger, _pluginId, "tcp", new NetEndpointText(Local), ex.SocketErrorCode.ToString());
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            Dispatch(socket);
        }
    }

    /// <summary>
    /// Hands an accepted connection to the newest accepting owner. Not inlined into the async accept loop: a local there
    /// would be hoisted into its state machine and keep the last owner (and its plugin's code) alive after a swap.
    /// </summary>
    private void Dispatch(Socket socket)
    {
        ListenerOwner? owner = Current();
        if (owner is null)
        {
            socket.Dispose();
            return;
        }

        int limit = owner.Limits!.MaxConnections;
        if (Interlocked.Increment(ref owner.Active) > limit)
        {
            Interlocked.Decrement(ref owner.Active);
            _rejected.Add(1, new KeyValuePair<string, object?>("plugin", owner.Guard.PluginId));
            long now = Environment.TickCount64;
            if (now >= Interlocked.Read(ref _nextLimitLog))
            {
                Interlocked.Exchange(ref _nextLimitLog, now + 10_000);
                SocketsLog.ConnectionLimitReached(_logger, owner.Guard.PluginId, new NetEndpointText(Local), limit);
            }

            socket.Dispose();
            return;
        }

        _ = ServeAsync(owner, socket);
    }

    private async Task ServeAsync(ListenerOwner owner, Socket socket)
    {
        owner.Open.TryAdd(socket, 0);
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                socket.NoDelay = true;
            }

            NetEndpoint client = NetEndpoint.FromIPEndPoint((IPEndPoint)socket.RemoteEndPoint!);
            var connection = new StreamConnection(socket, client, Local, PacketOrigin.HostSocket, owner.Limits!.IdleTimeout);
            await owner.Guard.RunStreamAsync(owner.StreamHandler!, connection, owner.Stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client reset before we read its address.
            socket.Dispose();
        }
        finally
        {
            owner.Open.TryRemove(socket, out _);
            Interlocked.Decrement(ref owner.Active);
        }
    }
}
