using System.Net.Security;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server.Epoll;
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

    /// <summary>
    /// Starts Kestrel on the DoH transport. Connections run on <paramref name="loops"/> when given, handshake included
    /// (see <see cref="LoopStream"/>: a read's continuation — decryption, Kestrel's HTTP/2 framing — runs on the loop's
    /// thread instead of hopping from the runtime's epoll thread to the thread pool), else on System.Net.Sockets.
    /// </summary>
    public static async Task<DohServer> StartAsync(DnsResolver resolver, ListenerCertificate certificate, ClientGate gate, DnsDotMetrics metrics, ILoggerFactory loggerFactory, ILogger logger, TimeSpan idleTimeout, EpollLoopGroup? loops = null)
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
        return new DohServer(transport, kestrel, new Handler(transport, certificate, gate, resolver, metrics, logger, loops, idleTimeout));
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
    private sealed class Handler(DohTransport transport, ListenerCertificate certificate, ClientGate gate, DnsResolver resolver, DnsDotMetrics metrics, ILogger logger, EpollLoopGroup? loops, TimeSpan keepAliveTimeout) : IStreamHandler
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
            // On a loop, over the socket itself, when Kestrel's idle limit (KeepAliveTimeout, clientIdleTimeoutMs) is the
            // stricter one: the handshake has its own timeout, so the SDK's idle-timeout wrapper (connection.Stream)
            // would only add work to every read. An endpoint whose own idle limit is shorter keeps the wrapper.
            LoopSocket? loop = connection.IdleTimeout == Timeout.InfiniteTimeSpan || connection.IdleTimeout >= keepAliveTimeout
                ? loops?.TryAdd(connection.Socket)
                : null;
            var tls = new SslStream(loop is null ? connection.Stream : new LoopStream(loop), leaveInnerStreamOpen: false);
            try
            {
                if (!await TlsHandshake.TryAuthenticateAsync(tls, certificate, Alpn, resolver.Snapshot.Options.HandshakeTimeoutMs, connection, gate, logger, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                string id = "doh-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var context = new DohConnectionContext(id, tls, connection.Client.ToIPEndPoint(), connection.Local.ToIPEndPoint(), LoopStream.ResetAction(connection.Socket, loop));
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
                // Off the loop before the host closes the socket (nothing left waiting on it).
                loop?.Abort();
                loop?.Dispose();
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
