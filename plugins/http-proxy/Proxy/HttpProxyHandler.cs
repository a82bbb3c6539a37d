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

    /// <param name="resolver">The gateway's name resolver, read at each lookup (IPluginContext.NameResolver).</param>
    /// <param name="hostAddresses">This host's addresses; null reads them from the interfaces (and follows changes).</param>
    public HttpProxyHandler(HttpProxyOptions options, Action<Socket> protectSocket, Func<INameResolver> resolver, HttpProxyMetrics metrics, ILogger logger,
        HostAddresses? hostAddresses = null)
    {
        Options = options;
        _ownsHostAddresses = hostAddresses is null;
        HostAddresses = hostAddresses ?? HostAddresses.FromInterfaces();
        Access = new AccessControl(options);
        Destinations = new DestinationPolicy(options.DenyDestinations, options.AllowDestinations, HostAddresses);
        Pool = new OriginConnectionPool(options.PoolMaxIdlePerOrigin, options.PoolIdleTimeout);
        Connector = new OriginConnector(protectSocket, resolver, options.OriginConnectTimeout);
        Metrics = metrics;
        Logger = logger;
        Warnings = new WarningLimiter(logger);
        Cache = options.Cache.Enabled ? new HttpCache(options.Cache, metrics) : null;
    }

    /// <summary>The shared response cache, or null when <c>cache.enabled</c> is false.</summary>
    public HttpCache? Cache { get; }

    public HttpProxyOptions Options { get; }

    public AccessControl Access { get; }

    /// <summary>This host's own addresses: who is a local client, and what <c>self</c> in denyDestinations means.</summary>
    public HostAddresses HostAddresses { get; }

    /// <summary>Where remote clients may not connect (denyDestinations/allowDestinations).</summary>
    public DestinationPolicy Destinations { get; }

    /// <summary>Rate limits the warnings clients can trigger at will.</summary>
    public WarningLimiter Warnings { get; }

    public OriginConnectionPool Pool { get; }

    public OriginConnector Connector { get; }

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
