using System.Net.Security;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server.Tls;
using Gateway.Sdk.Handlers;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Plugins.DnsDot.Server.Https;

/// <summary>
/// The DoH listeners' HTTP server: one Kestrel instance (HTTP/1.1 and HTTP/2) behind our own
/// <see cref="DohTransport"/>, fed by <see cref="StreamHandler"/> on every <c>listenHttps</c> and
/// <c>virtualHttps</c> endpoint. Each connection is admitted (per-client cap) and decrypted by us (the listener
/// certificate, ALPN h2 and http/1.1, the handshake timeout) before Kestrel sees it, so DoT and DoH share the
/// certificate reloads and the limits.
/// </summary>
internal sealed class DohServer : IAsyncDisposable
{
    private static readonly List<SslApplicationProtocol> Alpn = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11];

    private readonly DohTransport _transport;
    private readonly KestrelServer _kestrel;

    private DohServer(DohTransport transport, KestrelServer kestrel, IStreamHandler handler)
    {
        _transport = transport;
        _kestrel = kestrel;
        StreamHandler = handler;
    }

    /// <summary>The handler to bind on each DoH endpoint.</summary>
    public IStreamHandler StreamHandler { get; }

    /// <summary>Starts Kestrel on the DoH transport.</summary>
    public static async Task<DohServer> StartAsync(DnsResolver resolver, ListenerCertificate certificate, ClientGate gate, DnsDotMetrics metrics, ILoggerFactory loggerFactory, ILogger logger, TimeSpan idleTimeout)
    {
        loggerFactory = new KestrelLoggerFactory(loggerFactory);
        var options = new KestrelServerOptions
        {
            AddServerHeader = false,
            ApplicationServices = new LoggerServices(loggerFactory),
        };
        options.Limits.MaxRequestBodySize = ushort.MaxValue;
        options.Limits.KeepAliveTimeout = idleTimeout;
        options.Limits.Http2.MaxStreamsPerConnection = 100;
        options.Listen(DohTransport.ListenEndPoint, listen => listen.Protocols = HttpProtocols.Http1AndHttp2);
        var transport = new DohTransport();
        var kestrel = new KestrelServer(Options.Create(options), transport, loggerFactory);
        await kestrel.StartAsync(new DohApplication(resolver, gate, metrics.Serving), CancellationToken.None).ConfigureAwait(false);
        return new DohServer(transport, kestrel, new Handler(transport, certificate, gate, resolver, metrics, logger));
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _kestrel.StopAsync(timeout.Token).ConfigureAwait(false);
        _kestrel.Dispose();
        await _transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Accepts one DoH connection: cap, TLS, then Kestrel until it is done with it.</summary>
    private sealed class Handler(DohTransport transport, ListenerCertificate certificate, ClientGate gate, DnsResolver resolver, DnsDotMetrics metrics, ILogger logger) : IStreamHandler
    {
        private long _nextId;

        public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
        {
            Gateway.Sdk.Networking.NetAddress client = connection.Client.Address;
            if (!gate.TryOpenConnection(client))
            {
                return;
            }

            metrics.ClientConnectionsOpened.Add(1);
            var tls = new SslStream(connection.Stream, leaveInnerStreamOpen: false);
            try
            {
                if (!await TlsHandshake.TryAuthenticateAsync(tls, certificate, Alpn, resolver.Snapshot.Options.HandshakeTimeoutMs, connection, gate, logger, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                string id = "doh-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var context = new DohConnectionContext(id, tls, connection.Client.ToIPEndPoint(), connection.Local.ToIPEndPoint(), () => ConnectionReset.Reset(connection.Socket));
                await transport.OfferAsync(context, cancellationToken).ConfigureAwait(false);
                using CancellationTokenRegistration stop = cancellationToken.Register(static c => ((DohConnectionContext)c!).Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException("listener stopped")), context);
                await context.Completed.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The listener stopped while the connection waited to be accepted.
            }
            finally
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                gate.CloseConnection(client);
                metrics.ClientConnectionsClosed.Add(1);
            }
        }
    }

    /// <summary>What Kestrel asks its application services for here: the logger factory, nothing else.</summary>
    private sealed class LoggerServices(ILoggerFactory loggerFactory) : IServiceProvider
    {
        public object? GetService(Type serviceType) => serviceType == typeof(ILoggerFactory) ? loggerFactory : null;
    }
}
