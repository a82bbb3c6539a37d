using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Origins;
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
    private int _connections;

    private readonly bool _ownsHostAddresses;
    private readonly Action<Socket> _protectSocket;
    private readonly Func<INameResolver> _resolver;
    private readonly HttpProxyOptions _builtWith;   // what the cache and the pool were made with

    // Swapped whole by Reload (issue 14): a session reads Access once when it is admitted and Destinations when it
    // is created, so connections already open keep the rules they were admitted under.
    private HttpProxyOptions _options;
    private AccessControl _access;
    private DestinationPolicy _destinations;
    private OriginConnector _connector;

    /// <param name="resolver">The gateway's name resolver, read at each lookup (IPluginContext.NameResolver).</param>
    /// <param name="hostAddresses">This host's addresses; null reads them from the interfaces (and follows changes).</param>
    public HttpProxyHandler(HttpProxyOptions options, Action<Socket> protectSocket, Func<INameResolver> resolver, HttpProxyMetrics metrics, ILogger logger,
        HostAddresses? hostAddresses = null)
    {
        _options = options;
        _builtWith = options;
        _protectSocket = protectSocket;
        _resolver = resolver;
        _ownsHostAddresses = hostAddresses is null;
        HostAddresses = hostAddresses ?? HostAddresses.FromInterfaces();
        _access = new AccessControl(options);
        _destinations = new DestinationPolicy(options.DenyDestinations, options.AllowDestinations, HostAddresses);
        Pool = new OriginConnectionPool(options.PoolMaxIdlePerOrigin, options.PoolIdleTimeout);
        _connector = new OriginConnector(protectSocket, resolver, options.OriginConnectTimeout);
        Metrics = metrics;
        Logger = logger;
        Warnings = new WarningLimiter(logger);
        Cache = options.Cache.Enabled ? new HttpCache(options.Cache, metrics) : null;
    }

    /// <summary>The shared response cache, or null when <c>cache.enabled</c> is false.</summary>
    public HttpCache? Cache { get; }

    /// <summary>The options in force now (replaced by <see cref="Reload"/>).</summary>
    public HttpProxyOptions Options => Volatile.Read(ref _options);

    /// <summary>The client ACL and port rules in force now; a session reads it once, when it is admitted.</summary>
    public AccessControl Access => Volatile.Read(ref _access);

    /// <summary>This host's own addresses: who is a local client, and what <c>self</c> in denyDestinations means.</summary>
    public HostAddresses HostAddresses { get; }

    /// <summary>Where remote clients may not connect (denyDestinations/allowDestinations).</summary>
    public DestinationPolicy Destinations => Volatile.Read(ref _destinations);

    /// <summary>Rate limits the warnings clients can trigger at will.</summary>
    public WarningLimiter Warnings { get; }

    public OriginConnectionPool Pool { get; }

    public OriginConnector Connector => Volatile.Read(ref _connector);

    public HttpProxyMetrics Metrics { get; }

    public ILogger Logger { get; }

    /// <summary>Client connections being served now.</summary>
    public int ActiveConnections => Volatile.Read(ref _connections);

    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        int active = Interlocked.Increment(ref _connections);
        Metrics.ConnectionOpened();
        try
        {
            if (active > Options.MaxConnections)
            {
                if (Warnings.ShouldLog(WarningKind.ConnectionLimit))
                {
                    HttpProxyLog.ConnectionLimit(Logger, Options.MaxConnections, connection.Client.ToString());
                }

                await RefuseAsync(connection.Socket).ConfigureAwait(false);
                return;
            }

            using ClientSession session = new(this, connection, cancellationToken);
            await session.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
            Metrics.ConnectionClosed();
        }
    }

    /// <summary>
    /// Applies a reloaded section to new connections: client ACL, allowed/CONNECT ports, destination policy,
    /// connection limit, timeouts and header limits. Open connections keep the ACL they were admitted under; the
    /// timeouts they wait on next are the new ones. Returns the keys that changed but apply only when the plugin
    /// restarts (the cache and the origin pool own state that a swap would throw away or split; they keep running
    /// with the values they were built with, which are theirs, not <see cref="Options"/>'s).
    /// </summary>
    public IReadOnlyList<string> Reload(HttpProxyOptions options)
    {
        HttpProxyOptions built = _builtWith;
        List<string> restartOnly = [];
        if (!SameCache(built.Cache, options.Cache))
        {
            restartOnly.Add("cache");
        }

        if (built.PoolMaxIdlePerOrigin != options.PoolMaxIdlePerOrigin || built.PoolIdleTimeout != options.PoolIdleTimeout)
        {
            restartOnly.Add("pool");
        }

        Volatile.Write(ref _access, new AccessControl(options));
        Volatile.Write(ref _destinations, new DestinationPolicy(options.DenyDestinations, options.AllowDestinations, HostAddresses));
        Volatile.Write(ref _connector, new OriginConnector(_protectSocket, _resolver, options.OriginConnectTimeout));
        Volatile.Write(ref _options, options);
        return restartOnly;
    }

    private static bool SameCache(HttpCacheOptions a, HttpCacheOptions b) =>
        a.Enabled == b.Enabled && a.MaxBytes == b.MaxBytes && a.MaxObjectBytes == b.MaxObjectBytes && a.MaxEntries == b.MaxEntries
        && a.HeuristicMaxAge == b.HeuristicMaxAge;

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

    public void Dispose()
    {
        Pool.Dispose();
        if (_ownsHostAddresses)
        {
            HostAddresses.Dispose();
        }
    }
}
