using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// The origin connection one client connection holds: kept while the client keeps asking the same origin, taken
/// from and given back to the shared <see cref="OriginConnectionPool"/> when it switches, and never pooled while an
/// exchange is in flight on it. Also the client's last target (name, port, resolved addresses, for 30 s), so a
/// keep-alive request to the same origin allocates nothing here. Every connection it opens or takes from the pool
/// is held to the client's <see cref="DestinationPolicy"/>.
/// </summary>
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
    private readonly int _bufferSize;
    private readonly byte[] _host = new byte[MaxHostLength];
    private readonly byte[] _lastHost = new byte[MaxHostLength];
    private int _hostLength;
    private int _port;
    private int _lastHostLength = -1;
    private int _lastPort;
    private string _lastHostText = string.Empty;
    private IPAddress[]? _lastAddresses;
    private long _lastResolvedAt;

    // True while an exchange is in flight on Current: if the session ends then, the connection is in an unknown
    // state and must be closed, not pooled.
    private bool _busy;

    /// <param name="destinations">The client's destination policy; null when it is held to none (a local client).</param>
    public OriginLease(OriginConnectionPool pool, OriginConnector connector, HttpProxyMetrics metrics, DestinationPolicy? destinations, int bufferSize)
    {
        _pool = pool;
        _connector = connector;
        _metrics = metrics;
        _destinations = destinations;
        _bufferSize = bufferSize;
    }

    /// <summary>The connection held now, if any.</summary>
    public OriginConnection? Current { get; private set; }

    /// <summary>The host of the target set by <see cref="SetTarget"/>.</summary>
    public ReadOnlySpan<byte> TargetHost => _host.AsSpan(0, _hostLength);

    /// <summary>"host:port" of the last target (the pool key, and the name in logs and error bodies).</summary>
    public string Key { get; private set; } = string.Empty;

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
        if (Current is not null)
        {
            if (!fresh && sameOrigin && Current.IsUsable())
            {
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

        if (!fresh && _pool.TryTake(Key, out OriginConnection? pooled) && !IsDenied(pooled!))
        {
            Current = pooled!;
            _metrics.OriginConnection(reused: true);
            _busy = true;
            return (Current, true);
        }

        IPAddress[] addresses = await ResolveAsync(deadline.Token).ConfigureAwait(false);
        (Socket socket, NetAddress address) = await _connector.ConnectAsync(addresses, _port, _destinations, deadline, stopping).ConfigureAwait(false);
        Current = new OriginConnection(socket, address, Key, _bufferSize);
        _metrics.OriginConnection(reused: false);
        _busy = true;
        return (Current, false);
    }

    /// <summary>A new socket to the target for a tunnel (CONNECT): never pooled, never kept.</summary>
    /// <exception cref="OriginException">Resolution or connection failed (502/504) or the policy refused it (403).</exception>
    public async ValueTask<Socket> ConnectAsync(CancellationTokenSource deadline, CancellationToken stopping)
    {
        IPAddress[] addresses = await ResolveAsync(deadline.Token).ConfigureAwait(false);
        (Socket socket, _) = await _connector.ConnectAsync(addresses, _port, _destinations, deadline, stopping).ConfigureAwait(false);
        return socket;
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
