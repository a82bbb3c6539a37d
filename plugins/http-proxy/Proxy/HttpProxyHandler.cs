using System.Collections.Concurrent;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Plugins.HttpProxy.Socks;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>
/// The proxy's stream handler, bound to every configured endpoint (host sockets and virtual endpoints
/// alike): each accepted connection becomes a <see cref="ClientSession"/>.
/// </summary>
internal sealed class HttpProxyHandler : IStreamHandler, IDisposable
{
    private readonly bool _ownsHostAddresses;
    private int _connections;
    private volatile ProxyRules _rules;
    private readonly HttpProxyOptions _poolBuiltWith;   // the pool is shared by every generation of rules

    // Connections run on these (Linux): see HandleAsync.
    private readonly EpollLoopGroup? _loops = EpollLoopGroup.IsSupported ? new EpollLoopGroup("http-proxy") : null;

    // Parents' up/down state by name: a reload keeps a dead parent in its back-off.
    private readonly ConcurrentDictionary<string, ParentHealth> _parentHealth = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="resolver">The gateway's name resolver, read at each lookup (IPluginContext.NameResolver).</param>
    /// <param name="hostAddresses">This host's addresses; null reads them from the interfaces (and follows changes).</param>
    public HttpProxyHandler(HttpProxyOptions options, Action<Socket> protectSocket, Func<INameResolver> resolver, HttpProxyMetrics metrics, ILogger logger,
        HostAddresses? hostAddresses = null)
    {
        _ownsHostAddresses = hostAddresses is null;
        HostAddresses = hostAddresses ?? HostAddresses.FromInterfaces();
        ProtectSocket = protectSocket;
        Resolver = resolver;
        Pool = new OriginConnectionPool(options.PoolMaxIdlePerOrigin, options.PoolIdleTimeout);
        _poolBuiltWith = options;
        Metrics = metrics;
        Logger = logger;
        Warnings = new WarningLimiter(logger);
        _rules = new ProxyRules(options, HostAddresses, protectSocket, resolver, options.Cache.Enabled ? new HttpCache(options.Cache, metrics) : null,
            _parentHealth, metrics, logger, Warnings);
    }

    /// <summary>The rules new connections are admitted under.</summary>
    public ProxyRules Rules => _rules;

    /// <summary>Proxy authentication for new connections; null when <c>auth</c> is off.</summary>
    public ProxyAuthenticator? Authenticator { get; set; }

    /// <summary>The access log new connections write to; null when <c>accessLog</c> is off.</summary>
    public AccessLog? AccessLog { get; set; }

    /// <summary>Counts a failed authentication and logs it (rate-limited: a client can cause it at will).</summary>
    public void AuthenticationFailed(string client, string user, string protocol)
    {
        Metrics.AuthFailed(protocol);
        if (Warnings.ShouldLog(WarningKind.AuthenticationFailed))
        {
            HttpProxyLog.AuthFailed(Logger, client, user, protocol);
        }
    }

    /// <summary>The current options (<see cref="Rules"/>).</summary>
    public HttpProxyOptions Options => _rules.Options;

    /// <summary>The current shared response cache, or null when <c>cache.enabled</c> is false.</summary>
    public HttpCache? Cache => _rules.Cache;

    /// <summary>This host's own addresses: who is a local client, and what <c>self</c> in denyDestinations means.</summary>
    public HostAddresses HostAddresses { get; }

    /// <summary>IPluginContext.ProtectSocket, for every egress socket.</summary>
    public Action<Socket> ProtectSocket { get; }

    /// <summary>IPluginContext.NameResolver, read at each lookup.</summary>
    public Func<INameResolver> Resolver { get; }

    /// <summary>Rate limits the warnings clients can trigger at will.</summary>
    public WarningLimiter Warnings { get; }

    /// <summary>Idle origin connections, shared by every client and every generation of rules.</summary>
    public OriginConnectionPool Pool { get; }

    public HttpProxyMetrics Metrics { get; }

    public ILogger Logger { get; }

    /// <summary>Client connections being served now.</summary>
    public int ActiveConnections => Volatile.Read(ref _connections);

    public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => HandleAsync(connection, socksOnly: false, cancellationToken);

    /// <summary>
    /// Serves one connection: HTTP or SOCKS, told apart by the first byte (sing-box's "mixed" inbound): 5 is a SOCKS5
    /// greeting, 4 a SOCKS4 request, anything else HTTP. <paramref name="socksOnly"/> endpoints (<c>socksListen:</c>)
    /// close a connection that does not start as SOCKS.
    /// </summary>
    public async Task HandleAsync(StreamConnection connection, bool socksOnly, CancellationToken cancellationToken)
    {
        int active = Interlocked.Increment(ref _connections);
        Metrics.ConnectionOpened();
        try
        {
            // The connection keeps the rules it is admitted under, whatever a reload does meanwhile (issue #14).
            ProxyRules rules = _rules;
            if (active > rules.Options.MaxConnections)
            {
                if (Warnings.ShouldLog(WarningKind.ConnectionLimit))
                {
                    HttpProxyLog.ConnectionLimit(Logger, rules.Options.MaxConnections, connection.Client.ToString());
                }

                await RefuseAsync(connection.Socket).ConfigureAwait(false);
                return;
            }

            if (connection.Origin != PacketOrigin.HostSocket)
            {
                // Host sockets come with TCP_NODELAY from the host's listener; the kernel-terminated connections of
                // virtual endpoints do not. Small answers (a SOCKS reply, a 100 Continue) must not wait for an ACK.
                connection.Socket.NoDelay = true;
            }

            using SocketReader reader = new(connection.Socket, Math.Max(rules.Options.BufferSize, rules.Options.MaxHeaderBytes));
            // One cancellation source for the connection's whole life: armed here for the first byte, then re-armed by
            // the session for each wait (no second source, and no second timer, per connection).
            using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Connections run on the plugin's own epoll loops, where each wait's continuation runs on the loop's thread
            // rather than being handed from the runtime's epoll thread to the thread pool (measured: BENCHMARKS.md "SOCKS5
            // on the plugin's own epoll loop", "HTTP on the plugin's own epoll loop"); System.Net.Sockets serves a
            // connection only when no loop can take it (not Linux, the loops stopping, epoll refusing the socket).
            LoopSocket? loop = _loops?.TryAdd(connection.Socket);
            reader.Loop = loop;
            using CancellationTokenRegistration abort = loop is null ? default : deadline.Token.UnsafeRegister(LoopSocket.AbortCallback, loop);
            try
            {
                if (reader.Count == 0 && !await FirstByteAsync(reader, deadline, rules.Options.KeepAliveTimeout).ConfigureAwait(false))
                {
                    return;
                }

                if (IsSocks(reader.Buffered[0]))
                {
                    SocksSession socks = new(this, rules, connection, reader, deadline, cancellationToken);
                    await socks.RunAsync().ConfigureAwait(false);
                }
                else if (!socksOnly)
                {
                    using ClientSession session = new(this, rules, connection, reader, deadline, cancellationToken);
                    await session.RunAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                // Off the loop before the host closes the socket.
                reader.Loop?.Dispose();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
            Metrics.ConnectionClosed();
        }
    }

    private static bool IsSocks(byte first) => first is SocksSession.Version5 or SocksSession.Version4;

    /// <summary>Waits for the client's first byte (at most the keep-alive timeout); false when it closed or never sent one.</summary>
    private static async ValueTask<bool> FirstByteAsync(SocketReader reader, CancellationTokenSource deadline, TimeSpan timeout)
    {
        deadline.CancelAfter(timeout);
        try
        {
            return await reader.FillAsync(deadline.Token).ConfigureAwait(false) > 0;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private async Task RefuseAsync(Socket socket)
    {
        Metrics.Request(503);
        using CancellationTokenSource timeout = new(TimeSpan.FromSeconds(2));
        try
        {
            await socket.SendAsync(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"u8.ToArray(),
                SocketFlags.None,
                timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Over the limit and gone: nothing to do.
        }
    }

    /// <summary>
    /// Makes <paramref name="options"/> (a reloaded section) the rules new connections are admitted under (issue 14);
    /// connections already open keep theirs. The cache is kept when its settings did not change, else rebuilt empty
    /// (or dropped) for new connections. Returns the keys that changed but apply only at the plugin's next start:
    /// the origin pool is shared by every generation of rules.
    /// </summary>
    public IReadOnlyList<string> Reload(HttpProxyOptions options)
    {
        ProxyRules current = _rules;
        HttpCache? cache = SameCache(current.Options.Cache, options.Cache) ? current.Cache
            : options.Cache.Enabled ? new HttpCache(options.Cache, Metrics) : null;
        _rules = new ProxyRules(options, HostAddresses, ProtectSocket, Resolver, cache, _parentHealth, Metrics, Logger, Warnings);
        return _poolBuiltWith.PoolMaxIdlePerOrigin != options.PoolMaxIdlePerOrigin || _poolBuiltWith.PoolIdleTimeout != options.PoolIdleTimeout
            ? ["poolMaxIdlePerOrigin/poolIdleTimeout"]
            : [];
    }

    // collapsedForwarding and collapsedWaitMs are not compared: each connection reads them from its own rules
    // (CacheExchange), so changing them keeps the cache and its entries.
    private static bool SameCache(HttpCacheOptions a, HttpCacheOptions b) =>
        a.Enabled == b.Enabled && a.MaxBytes == b.MaxBytes && a.MaxObjectBytes == b.MaxObjectBytes && a.MaxEntries == b.MaxEntries
        && a.HeuristicMaxAge == b.HeuristicMaxAge;

    public void Dispose()
    {
        _loops?.Dispose();
        Pool.Dispose();
        if (_ownsHostAddresses)
        {
            HostAddresses.Dispose();
        }
    }
}
