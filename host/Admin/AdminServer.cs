using System.Net;
using Gateway.Host.Admin.Transport;
using Gateway.Host.Api;
using Gateway.Host.Configuration;
using Gateway.Host.Observability;
using Gateway.Sdk.Api;
using Gateway.Sdk.Networking;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Host.Admin;

/// <summary>
/// The admin listener (<c>host.admin</c>) on Kestrel: HTTP/1.1 and cleartext HTTP/2 (prior knowledge, told apart by
/// the connection's first bytes) on one address, the token and Host checks of <see cref="AdminAccess"/>, and a
/// graceful stop (open requests may finish; idle connections are closed, HTTP/2 ones with GOAWAY). Kestrel is
/// driven directly — no WebApplication, no routing, no MVC — to keep the gateway's idle memory low (issue 21).
/// </summary>
internal sealed class AdminServer : IAsyncDisposable
{
    /// <summary>Connections open at once; more wait in the accept queue (a scraper and a few pages need a handful).</summary>
    public const int MaxConnections = 64;

    /// <summary>Request line plus headers; a larger head is answered with 431.</summary>
    public const int MaxRequestHeadBytes = 16 * 1024;

    /// <summary>A client must send its whole request head within this time.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long open requests may finish on stop before their connections are closed.</summary>
    public static readonly TimeSpan GracefulStopTimeout = TimeSpan.FromSeconds(5);

    private readonly AdminOptions _options;
    private readonly MetricsCollector _metrics;
    private readonly Func<bool> _isReady;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly AdminApi? _api;
    private KestrelServer? _server;
    private ServiceProvider? _services;
    private string _endpointText;

    /// <param name="options">host.admin: the listen address (port 0: any free port), the token, allowed host names.</param>
    /// <param name="metrics">What /metrics shows.</param>
    /// <param name="isReady">/readyz: 200 when true, 503 otherwise.</param>
    /// <param name="loggerFactory">For the listener's and Kestrel's logs.</param>
    /// <param name="api">The JSON API (null: /api answers 404, as in tests of the listener alone).</param>
    public AdminServer(AdminOptions options, MetricsCollector metrics, Func<bool> isReady, ILoggerFactory loggerFactory, AdminApi? api = null)
    {
        _options = options;
        _metrics = metrics;
        _isReady = isReady;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Gateway.Host.Admin");
        _api = api;
        NetEndpoint listen = options.Listen ?? throw new ArgumentException("host.admin.listen is not set", nameof(options));
        LocalEndpoint = listen;
        _endpointText = listen.ToString();
    }

    /// <summary>The bound endpoint after <see cref="StartAsync"/> (port 0 resolved to the real port).</summary>
    public NetEndpoint LocalEndpoint { get; private set; }

    /// <summary>Binds and starts serving.</summary>
    /// <exception cref="InvalidOperationException">The address cannot be bound (in use, not local); the message says which.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            throw new InvalidOperationException("the admin listener is already started");
        }

        IPEndPoint endpoint = LocalEndpoint.ToIPEndPoint();
        var access = new AdminAccess(endpoint.Address, _options.Token, _options.AllowedHosts);
        var application = new AdminApplication(_metrics, _isReady, access, _api, _logger);

        // Kestrel wants a service provider for its options even when nothing is resolved from it.
        _services = new ServiceCollection().BuildServiceProvider();
        var kestrel = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = _services };
        kestrel.Limits.MaxConcurrentConnections = MaxConnections;
        kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
        kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadBytes;
        kestrel.Limits.RequestHeadersTimeout = RequestTimeout;
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
        kestrel.Limits.MaxRequestBodySize = ApiRequest.MaxBodyBytes;
        kestrel.Limits.Http2.MaxStreamsPerConnection = 32;

        var sockets = new SocketTransportOptions { CreateBoundListenSocket = CreateListenSocket };
        var transport = new AdminTransportFactory(new SocketTransportFactory(Options.Create(sockets), _loggerFactory));
        var handoff = new H2cHandoffEndPoint(endpoint);
        ListenOptions? tcp = null;
        kestrel.Listen(endpoint, listen =>
        {
            tcp = listen;
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => new H2cPrefaceMiddleware(next, () => transport.HandoffFor(handoff)).OnConnectionAsync);
        });
        kestrel.Listen(handoff, listen => listen.Protocols = HttpProtocols.Http2);

        var server = new KestrelServer(Options.Create(kestrel), transport, _loggerFactory);
        try
        {
            await server.StartAsync(application, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or Microsoft.AspNetCore.Connections.AddressInUseException or System.Net.Sockets.SocketException)
        {
            server.Dispose();
            AdminLog.BindFailed(_logger, _endpointText, ex.Message);
            throw new InvalidOperationException($"admin listener {_endpointText}: {ex.GetBaseException().Message}", ex);
        }

        _server = server;
        if (tcp?.IPEndPoint is { } bound)
        {
            LocalEndpoint = NetEndpoint.FromIPEndPoint(bound);
            _endpointText = LocalEndpoint.ToString();
        }

        if (_api is not null)
        {
            _api.AdminEndpoint = LocalEndpoint;
        }

        AdminLog.Listening(_logger, _endpointText, access.RequiresToken ? "required" : "not set (loopback only)");
    }

    /// <summary>Stops accepting, lets open requests finish for up to <see cref="GracefulStopTimeout"/> (or until <paramref name="cancellationToken"/>), then closes what is left.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        KestrelServer? server = Interlocked.Exchange(ref _server, null);
        if (server is null)
        {
            return;
        }

        using var graceful = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        graceful.CancelAfter(GracefulStopTimeout);
        await server.StopAsync(graceful.Token).ConfigureAwait(false);
        server.Dispose();
        if (_services is not null)
        {
            await _services.DisposeAsync().ConfigureAwait(false);
        }

        AdminLog.Stopped(_logger, _endpointText);
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    /// <summary>
    /// The listening socket, with SO_REUSEADDR so that a restarted gateway binds again while connections of the
    /// previous one sit in TIME_WAIT. Set raw: .NET's ReuseAddress option also sets SO_REUSEPORT on Linux, which would
    /// let a second gateway share (and steal) the port.
    /// </summary>
    private static System.Net.Sockets.Socket CreateListenSocket(EndPoint endpoint)
    {
        var ip = (IPEndPoint)endpoint;
        var socket = new System.Net.Sockets.Socket(ip.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            if (OperatingSystem.IsLinux())
            {
                const int SolSocket = 1;
                const int SoReuseAddr = 2;
                socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            }

            socket.Bind(ip);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
