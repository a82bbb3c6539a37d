using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// The origin connection one client connection holds: kept while the client keeps asking the same origin, taken
/// from and given back to the shared <see cref="OriginConnectionPool"/> when it switches, and never pooled while an
/// exchange is in flight on it. Also the client's last target (name, port, resolved addresses, for 30 s), so a
/// keep-alive request to the same origin allocates nothing here. Every connection it opens or takes from the pool
/// is held to the client's <see cref="DestinationPolicy"/>. A destination that <c>parents:</c> serves goes through
/// the first of them that is up (<see cref="ParentRouter"/>); those connections are pooled apart from direct ones.
/// </summary>
/// <remarks>
/// For a client served by an epoll loop, direct connections are opened on that loop (connect, reads and writes
/// complete on its thread); while the lease holds a connection on a loop, the session's deadline is bound to it
/// (<see cref="OriginConnection.Bind"/>). Parents are spoken to off the loop, on System.Net.Sockets.
/// </remarks>
internal sealed class OriginLease : IDisposable
{
    /// <summary>Longest host name (RFC 1035 §2.3.4 and then some); longer targets are refused before they get here.</summary>
    public const int MaxHostLength = 255;

    // Names are looked up again after 30 s so that a long keep-alive session follows DNS changes.
    private const long ResolveAgainMs = 30_000;

    private readonly OriginConnectionPool _pool;
    private readonly OriginConnector _connector;
    private readonly HttpProxyMetrics _metrics;
    private readonly DestinationPolicy? _destinations;
    private readonly ParentRouter _parents;
    private readonly int _bufferSize;
    private readonly EpollLoop? _loop;
    private readonly byte[] _host = new byte[MaxHostLength];
    private readonly byte[] _lastHost = new byte[MaxHostLength];
    private int _hostLength;
    private int _port;
    private int _lastHostLength = -1;
    private int _lastPort;
    private string _lastHostText = string.Empty;
    private IPAddress[]? _lastAddresses;
    private long _lastResolvedAt;

    // The pool key of the last target through the last parent, kept so a keep-alive session builds it once.
    private ParentProxy? _keyParent;
    private string? _keyOrigin;
    private string _parentKey = string.Empty;

    // True while an exchange is in flight on Current: if the session ends then, the connection is in an unknown
    // state and must be closed, not pooled.
    private bool _busy;

    /// <param name="destinations">The client's destination policy; null when it is held to none (a local client).</param>
    /// <param name="parents">The parent proxies of the client's rules (empty: everything direct).</param>
    /// <param name="loop">The epoll loop serving the client, where new direct connections go too; null when System.Net.Sockets serves it.</param>
    public OriginLease(OriginConnectionPool pool, OriginConnector connector, HttpProxyMetrics metrics, DestinationPolicy? destinations, ParentRouter parents, int bufferSize,
        EpollLoop? loop = null)
    {
        _loop = loop;
        _pool = pool;
        _connector = connector;
        _metrics = metrics;
        _destinations = destinations;
        _parents = parents;
        _bufferSize = bufferSize;
    }

    /// <summary>The connection held now, if any.</summary>
    public OriginConnection? Current { get; private set; }

    /// <summary>The host of the target set by <see cref="SetTarget"/>.</summary>
    public ReadOnlySpan<byte> TargetHost => _host.AsSpan(0, _hostLength);

    /// <summary>"host:port" of the last target (the pool key of direct connections, and the name in logs and error bodies).</summary>
    public string Key { get; private set; } = string.Empty;

    /// <summary>The parent proxy the last connection acquired or opened goes through; null when it is direct.</summary>
    public ParentProxy? Parent { get; private set; }

    /// <summary>Sets the target of the next <see cref="AcquireAsync"/> / <see cref="ConnectAsync"/>.</summary>
    public void SetTarget(ReadOnlySpan<byte> host, int port)
    {
        host.CopyTo(_host);
        _hostLength = host.Length;
        _port = port;
    }

    /// <summary>
    /// An origin connection for the target: the one held (same origin, still usable), a pooled one, or a new one.
    /// <paramref name="fresh"/> asks for a new connection of its own (an upgrade: after a 101 the connection belongs to
    /// the new protocol for good, so neither a kept nor a pooled one is spent on it).
    /// </summary>
    /// <exception cref="OriginException">Resolution or connection failed (502/504) or the policy refused it (403).</exception>
    public async ValueTask<(OriginConnection Connection, bool Reused)> AcquireAsync(bool fresh, CancellationTokenSource deadline, CancellationToken stopping)
    {
        bool sameOrigin = IsSameAsLast();
        Parent = null;
        if (Current is not null)
        {
            if (!fresh && sameOrigin && Current.IsUsable())
            {
                Parent = Current.Parent;
                _metrics.OriginConnection(reused: true);
                _busy = true;
                return (Current, true);
            }

            Release();
        }

        if (!sameOrigin)
        {
            RememberTarget();
        }

        if (!_parents.IsEmpty)
        {
            (OriginConnection? viaParent, bool reused) = await AcquireThroughParentAsync(fresh, deadline, stopping).ConfigureAwait(false);
            if (viaParent is not null)
            {
                viaParent.Bind(deadline.Token);
                Current = viaParent;
                _busy = true;
                return (Current, reused);
            }
        }

        if (!fresh && _pool.TryTake(Key, out OriginConnection? pooled) && !IsDenied(pooled!))
        {
            pooled!.Bind(deadline.Token);
            Current = pooled;
            _metrics.OriginConnection(reused: true);
            _busy = true;
            return (Current, true);
        }

        IPAddress[] addresses = await ResolveAsync(deadline.Token).ConfigureAwait(false);
        if (_loop is { Stopped: false })
        {
            LoopConnection opened = await _connector.ConnectOnLoopAsync(addresses, _port, _destinations, deadline, stopping, _loop).ConfigureAwait(false);
            // The connect's registration is the session's binding to it.
            Current = new OriginConnection(opened.Socket, opened.Address, Key, _bufferSize, loop: opened.Loop, abort: opened.Abort);
        }
        else
        {
            (Socket socket, NetAddress address) = await _connector.ConnectAsync(addresses, _port, _destinations, deadline, stopping).ConfigureAwait(false);
            Current = new OriginConnection(socket, address, Key, _bufferSize);
        }

        _metrics.OriginConnection(reused: false);
        _busy = true;
        return (Current, false);
    }

    /// <summary>A new connection to the target for a tunnel (CONNECT), through a parent when one serves it: never pooled, never kept.</summary>
    /// <exception cref="OriginException">Resolution or connection failed (502/504) or the policy refused it (403).</exception>
    public async ValueTask<OriginTunnel> ConnectAsync(CancellationTokenSource deadline, CancellationToken stopping)
    {
        Parent = null;
        if (!IsSameAsLast())
        {
            RememberTarget();
        }

        if (!_parents.IsEmpty)
        {
            // A parent is connected to and spoken to with blocking steps (a loopback connect, its handshake).
            await EpollLoop.LeaveAsync().ConfigureAwait(false);
            IPAddress[]? known = await ParentAddressesAsync(deadline.Token).ConfigureAwait(false);
            if (await _parents.TunnelAsync(_lastHostText, _port, known, _destinations, _bufferSize, deadline, stopping).ConfigureAwait(false) is { } tunnel)
            {
                Parent = tunnel.Parent;
                return tunnel;
            }
        }

        IPAddress[] addresses = await ResolveAsync(deadline.Token).ConfigureAwait(false);
        if (_loop is { Stopped: false })
        {
            return await _connector.ConnectOnLoopAsync(addresses, _port, _destinations, deadline, stopping, _loop, _bufferSize).ConfigureAwait(false);
        }

        (Socket socket, _) = await _connector.ConnectAsync(addresses, _port, _destinations, deadline, stopping).ConfigureAwait(false);
        return new OriginTunnel(socket, new SocketReader(socket, _bufferSize), parent: null);
    }

    /// <summary>
    /// A connection through the first parent that serves the target and is up: a pooled one, or a new one (through a
    /// SOCKS5 parent, with its tunnel to the origin open). Null when no parent serves it, or none is up and direct
    /// connections are allowed.
    /// </summary>
    /// <exception cref="OriginException">403 (policy), 502 (neverDirect and no parent up, or a SOCKS5 parent refused), 504.</exception>
    private async ValueTask<(OriginConnection? Connection, bool Reused)> AcquireThroughParentAsync(bool fresh, CancellationTokenSource deadline, CancellationToken stopping)
    {
        // A parent is connected to and spoken to with blocking steps (a loopback connect, its handshake).
        await EpollLoop.LeaveAsync().ConfigureAwait(false);
        IPAddress[]? known = await ParentAddressesAsync(deadline.Token).ConfigureAwait(false);
        if (!_parents.AnyMatch(_lastHostText, known))
        {
            return (null, false);
        }

        ParentRouter.CheckDestination(known, _destinations);
        for (int i = _parents.Next(0, _lastHostText, known); i >= 0; i = _parents.Next(i + 1, _lastHostText, known))
        {
            ParentProxy parent = _parents[i];
            string key = ParentKey(parent);
            // Pooled connections through a parent were opened for this target through it: the policy was checked above,
            // and the parent's own address is not held to it.
            if (!fresh && _pool.TryTake(key, out OriginConnection? pooled))
            {
                Parent = parent;
                _metrics.OriginConnection(reused: true);
                return (pooled, true);
            }

            if (await _parents.ConnectAsync(parent, deadline, stopping).ConfigureAwait(false) is not (Socket socket, NetAddress address))
            {
                continue;
            }

            var connection = new OriginConnection(socket, address, key, _bufferSize, parent);
            if (parent.Url.Protocol == ParentProtocol.Socks5)
            {
                try
                {
                    await ParentHandshake.OpenAsync(parent, socket, connection.Reader, _lastHostText, _port, deadline.Token, stopping).ConfigureAwait(false);
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            }

            Parent = parent;
            _metrics.OriginConnection(reused: false);
            return (connection, false);
        }

        _parents.NoParentUp(_lastHostText, _port);
        return (null, false);
    }

    /// <summary>
    /// The target's addresses where parent matching needs or may use them: an IP literal (no lookup), or a name no
    /// parent matches by name while some parent has <c>networks</c>; null otherwise (the name goes to a parent unresolved).
    /// </summary>
    private async ValueTask<IPAddress[]?> ParentAddressesAsync(CancellationToken cancellationToken) =>
        IPAddress.TryParse(_lastHostText, out _) || _parents.NeedsAddresses(_lastHostText) ? await ResolveAsync(cancellationToken).ConfigureAwait(false) : null;

    private string ParentKey(ParentProxy parent)
    {
        if (!ReferenceEquals(parent, _keyParent) || !ReferenceEquals(Key, _keyOrigin))
        {
            _parentKey = parent.PoolKey(Key);
            _keyParent = parent;
            _keyOrigin = Key;
        }

        return _parentKey;
    }

    /// <summary>The exchange on <see cref="Current"/> ended cleanly: it may be kept and pooled.</summary>
    public void Complete() => _busy = false;

    /// <summary>Closes <see cref="Current"/> (its state is unknown or it must not carry another request).</summary>
    public void Drop()
    {
        Current?.Dispose();
        Current = null;
        _busy = false;
    }

    /// <summary>
    /// Hands <see cref="Current"/> over to the caller for good (a protocol switch: it carries another protocol now and
    /// is closed by the caller, never pooled).
    /// </summary>
    public OriginConnection Detach()
    {
        OriginConnection connection = Current!;
        Current = null;
        _busy = false;
        return connection;
    }

    /// <summary>Gives <see cref="Current"/> back to the pool when its last exchange ended cleanly, closes it otherwise.</summary>
    public void Release()
    {
        if (Current is null)
        {
            return;
        }

        if (_busy)
        {
            Drop();
            return;
        }

        Current.Unbind();
        if (Current.Loop is { IsAborted: true })
        {
            // The deadline fired while it was held (between requests): its loop socket is of no use any more.
            Drop();
            return;
        }

        _pool.Return(Current);
        Current = null;
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

        _pool.Return(pooled);
        return true;
    }

    private bool IsSameAsLast() =>
        _lastHostLength == _hostLength && _lastPort == _port &&
        Ascii.EqualsIgnoreCase(_lastHost.AsSpan(0, _lastHostLength), _host.AsSpan(0, _hostLength));

    private void RememberTarget()
    {
        _host.AsSpan(0, _hostLength).CopyTo(_lastHost);
        _lastHostLength = _hostLength;
        _lastPort = _port;
        _lastHostText = Encoding.ASCII.GetString(_host, 0, _hostLength);
        Key = _lastHostText.Contains(':') ? $"[{_lastHostText}]:{_port}" : $"{_lastHostText}:{_port}";
        _lastAddresses = null;
    }

    /// <summary>The addresses of the target, from the last lookup when it is the same name and recent.</summary>
    private async ValueTask<IPAddress[]> ResolveAsync(CancellationToken cancellationToken)
    {
        if (!IsSameAsLast())
        {
            RememberTarget();
        }

        if (_lastAddresses is null || Environment.TickCount64 - _lastResolvedAt > ResolveAgainMs)
        {
            _lastAddresses = await _connector.ResolveAsync(_lastHostText, cancellationToken).ConfigureAwait(false);
            _lastResolvedAt = Environment.TickCount64;
        }

        return _lastAddresses;
    }

    /// <summary>Pools <see cref="Current"/> when the last exchange ended cleanly.</summary>
    public void Dispose() => Release();
}
