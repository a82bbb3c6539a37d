using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// Resolves origin names through the gateway's resolver and opens protected egress sockets to them, on addresses
/// the client's <see cref="DestinationPolicy"/> allows. HTTP requests, CONNECT, Upgrade and SOCKS all connect here,
/// so none of them can skip the policy.
/// </summary>
internal sealed class OriginConnector
{
    private readonly Action<Socket> _protect;
    private readonly Func<INameResolver> _resolver;
    private readonly TimeSpan _connectTimeout;

    /// <param name="protect">IPluginContext.ProtectSocket: keeps egress out of the gateway's own TUN.</param>
    /// <param name="resolver">
    /// IPluginContext.NameResolver, read at each lookup: dns-dot's pipeline while it runs (names never reach the
    /// system resolver then), the system resolver otherwise.
    /// </param>
    /// <param name="connectTimeout">Resolution plus connection time limit.</param>
    public OriginConnector(Action<Socket> protect, Func<INameResolver> resolver, TimeSpan connectTimeout)
    {
        _protect = protect;
        _resolver = resolver;
        _connectTimeout = connectTimeout;
    }

    /// <summary>Resolves <paramref name="host"/> (an IP literal needs no lookup); throws <see cref="OriginException"/> (502/504).</summary>
    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            return [literal];
        }

        // The resolver may block (the system's, or dns-dot's): never on a loop's thread.
        await EpollLoop.LeaveAsync().ConfigureAwait(false);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            IReadOnlyList<IPAddress> addresses = await _resolver().ResolveAsync(host, AddressFamily.Unspecified, timeout.Token).ConfigureAwait(false);
            if (addresses.Count == 0)
            {
                throw new OriginException(502, $"'{host}' has no addresses", error: SocketError.HostNotFound);
            }

            return [.. addresses];
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OriginException(504, $"resolving '{host}' took longer than {_connectTimeout.TotalSeconds:0.#} s", error: SocketError.TimedOut);
        }
        catch (SocketException e)
        {
            throw new OriginException(502, $"cannot resolve '{host}': {e.SocketErrorCode}", error: SocketError.HostNotFound);
        }
    }

    /// <summary>
    /// Connects to the first allowed address that accepts; throws <see cref="OriginException"/> (403 when
    /// <paramref name="policy"/> refuses every address, 502 refused/unreachable, 504 timeout).
    /// </summary>
    /// <param name="addresses">Candidate addresses, tried in order.</param>
    /// <param name="port">The origin's port.</param>
    /// <param name="policy">The client's destination policy; null when the client is not held to one (a local client).</param>
    /// <param name="deadline">The session's cancellation source, armed here with the connect timeout (no new timer per connect).</param>
    /// <param name="stopping">Signalled when the plugin stops; tells a stop apart from a timeout.</param>
    public async ValueTask<(Socket Socket, NetAddress Address)> ConnectAsync(IPAddress[] addresses, int port, DestinationPolicy? policy, CancellationTokenSource deadline,
        CancellationToken stopping)
    {
        // A loopback connect blocks (ConnectLoopback): never on a loop's thread.
        await EpollLoop.LeaveAsync().ConfigureAwait(false);
        SocketError lastError = SocketError.HostUnreachable;
        string? deniedBy = null;
        bool armed = false;
        foreach (IPAddress address in addresses)
        {
            if (!Admit(address, policy, deadline, ref deniedBy, ref armed, out NetAddress netAddress))
            {
                continue;
            }

            Socket socket = new(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                _protect(socket);
                if (IPAddress.IsLoopback(address))
                {
                    ConnectLoopback(socket, new IPEndPoint(address, port));
                }
                else
                {
                    await socket.ConnectAsync(new IPEndPoint(address, port), deadline.Token).ConfigureAwait(false);
                }

                return (socket, netAddress);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                socket.Dispose();
                throw TimedOut();
            }
            catch (SocketException e)
            {
                socket.Dispose();
                lastError = e.SocketErrorCode;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw Failed(armed, deniedBy, lastError);
    }

    /// <summary>
    /// <see cref="ConnectAsync"/> for a tunnel whose client is served by an epoll loop (SOCKS, HTTP CONNECT): a
    /// non-blocking connect(2) completed by the loop, loopback included (a blocking connect could stall every
    /// connection on the loop while a full backlog drops the SYN), and the relay's origin side on the same loop.
    /// </summary>
    /// <param name="loop">The loop the origin socket is served by.</param>
    /// <param name="bufferSize">The origin reader's buffer.</param>
    /// <exception cref="OriginException">As <see cref="ConnectAsync"/>.</exception>
    public async ValueTask<OriginTunnel> ConnectOnLoopAsync(IPAddress[] addresses, int port, DestinationPolicy? policy, CancellationTokenSource deadline,
        CancellationToken stopping, EpollLoop loop, int bufferSize)
    {
        LoopConnection connection = await ConnectOnLoopAsync(addresses, port, policy, deadline, stopping, loop).ConfigureAwait(false);
        return new OriginTunnel(connection.Socket, new SocketReader(connection.Socket, bufferSize) { Loop = connection.Loop }, connection.Remote, connection.Abort);
    }

    /// <summary>
    /// The connect of <see cref="ConnectOnLoopAsync(IPAddress[], int, DestinationPolicy?, CancellationTokenSource, CancellationToken, EpollLoop, int)"/>:
    /// the socket on <paramref name="loop"/>, with the registration by which <paramref name="deadline"/> aborts it
    /// (the caller owns all of it).
    /// </summary>
    /// <exception cref="OriginException">As <see cref="ConnectAsync"/>.</exception>
    public async ValueTask<LoopConnection> ConnectOnLoopAsync(IPAddress[] addresses, int port, DestinationPolicy? policy, CancellationTokenSource deadline,
        CancellationToken stopping, EpollLoop loop)
    {
        SocketError lastError = SocketError.HostUnreachable;
        string? deniedBy = null;
        bool armed = false;
        foreach (IPAddress address in addresses)
        {
            if (!Admit(address, policy, deadline, ref deniedBy, ref armed, out NetAddress netAddress))
            {
                continue;
            }

            Socket socket = new(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            LoopSocket? origin = null;
            CancellationTokenRegistration abort = default;
            try
            {
                _protect(socket);
                EpollNative.SetNonBlocking(socket);
                origin = loop.Add(socket, register: false);
                abort = deadline.Token.UnsafeRegister(LoopSocket.AbortCallback, origin);
                var remote = new IPEndPoint(address, port);
                await origin.ConnectAsync(remote.Serialize()).ConfigureAwait(false);
                return new LoopConnection(socket, origin, remote, netAddress, abort);
            }
            catch (Exception e)
            {
                abort.Dispose();
                origin?.Dispose();
                socket.Dispose();
                if (e is OperationCanceledException && !stopping.IsCancellationRequested)
                {
                    throw TimedOut();
                }

                if (e is not SocketException socketError)
                {
                    throw;
                }

                lastError = socketError.SocketErrorCode;
            }
        }

        throw Failed(armed, deniedBy, lastError);
    }

    /// <summary>
    /// Whether <paramref name="address"/> may be connected to under <paramref name="policy"/> (checked on the address
    /// connected to, after resolution: a name that resolves to a denied address, or a DNS answer that changed since, is
    /// caught here, not by looking at the name); arms the connect timeout on the first that may.
    /// </summary>
    private bool Admit(IPAddress address, DestinationPolicy? policy, CancellationTokenSource deadline, ref string? deniedBy, ref bool armed, out NetAddress netAddress)
    {
        netAddress = HostAddresses.Unmap(NetAddress.FromIPAddress(address));
        if (policy is not null && !policy.IsAllowed(netAddress, out string rule))
        {
            deniedBy ??= rule;
            return false;
        }

        if (!armed)
        {
            deadline.CancelAfter(_connectTimeout);
            armed = true;
        }

        return true;
    }

    private OriginException TimedOut() =>
        new(504, $"connecting took longer than {_connectTimeout.TotalSeconds:0.#} s", error: SocketError.TimedOut);

    /// <summary>403 when the policy refused every address, else 502 with the last connect error.</summary>
    private static OriginException Failed(bool armed, string? deniedBy, SocketError lastError) =>
        !armed && deniedBy is not null
            ? new OriginException(403, $"this proxy does not connect there ({deniedBy}; denyDestinations)", deniedBy)
            : new OriginException(502, $"connection failed: {lastError}", error: lastError);

    /// <summary>Resolves <paramref name="host"/> (a name or an IP literal) and connects to it: <see cref="ResolveAsync"/> then <see cref="ConnectAsync"/>.</summary>
    /// <exception cref="OriginException">Resolution or connection failed (502/504) or the policy refused every address (403).</exception>
    public async ValueTask<(Socket Socket, NetAddress Address)> ConnectHostAsync(string host, int port, DestinationPolicy? policy, CancellationTokenSource deadline,
        CancellationToken stopping)
    {
        IPAddress[] addresses = await ResolveAsync(host, deadline.Token).ConfigureAwait(false);
        return await ConnectAsync(addresses, port, policy, deadline, stopping).ConfigureAwait(false);
    }

    /// <summary>
    /// Connects to a loopback origin with a blocking connect(): the whole handshake runs inside that
    /// call, while a non-blocking connect always returns EINPROGRESS and costs an epoll wake-up plus a
    /// thread-pool hand-off per request (measured: about a fifth of the proxy's CPU per 1 KiB request
    /// to an HTTP/1.0 origin). Linux bounds a blocking connect by SO_SNDTIMEO (socket(7)), so a
    /// loopback listener whose backlog is full (SYN dropped) holds this thread at most the connect timeout.
    /// SO_SNDTIMEO is left set afterwards (one setsockopt per connection less): it bounds only blocking calls, and the
    /// socket turns non-blocking at its first asynchronous operation, the only kind these sockets see.
    /// </summary>
    private void ConnectLoopback(Socket socket, IPEndPoint endpoint)
    {
        socket.SendTimeout = (int)Math.Min(_connectTimeout.TotalMilliseconds, int.MaxValue);
        try
        {
            socket.Connect(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.InProgress or SocketError.WouldBlock or SocketError.TimedOut)
        {
            throw TimedOut();
        }
    }
}

/// <summary>An origin connection on an epoll loop (<see cref="OriginConnector.ConnectOnLoopAsync(IPAddress[], int, DestinationPolicy?, CancellationTokenSource, CancellationToken, EpollLoop)"/>).</summary>
/// <param name="Socket">The connected socket.</param>
/// <param name="Loop">Its loop socket.</param>
/// <param name="Remote">The address connected to.</param>
/// <param name="Address">The same, as the destination policy sees it.</param>
/// <param name="Abort">The registration by which the connecting session's deadline aborts <paramref name="Loop"/>.</param>
internal readonly record struct LoopConnection(Socket Socket, LoopSocket Loop, IPEndPoint Remote, NetAddress Address, CancellationTokenRegistration Abort);
