using System.Net.Security;
using System.Net.Sockets;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server.Epoll;
using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server.Tls;

/// <summary>
/// DNS over TLS (RFC 7858) on <c>listenTls</c> and <c>virtualTls</c>: the per-client connection cap, the TLS
/// handshake (TLS 1.2 or 1.3, ALPN "dot", session resumption, bounded by <c>handshakeTimeoutMs</c>), then the
/// same <see cref="StreamSession"/> as DNS over TCP (RFC 7858 §3.3: many queries per connection, answers out of
/// order, the idle timeout and every limit of the TCP path).
/// </summary>
internal sealed class DnsTlsStreamHandler : IStreamHandler
{
    /// <summary>RFC 7858 §3.2's ALPN id (IANA "dot").</summary>
    private static readonly List<SslApplicationProtocol> Alpn = [new SslApplicationProtocol("dot"u8.ToArray())];

    private readonly DnsResolver _resolver;
    private readonly ListenerCertificate _certificate;
    private readonly ClientGate _gate;
    private readonly ILogger _logger;
    private readonly DnsDotMetrics _metrics;
    private readonly EpollLoopGroup? _loops;

    /// <summary>
    /// Creates the handler. Connections run on <paramref name="loops"/> when given, handshake included (see
    /// <see cref="LoopStream"/>), else on System.Net.Sockets.
    /// </summary>
    public DnsTlsStreamHandler(DnsResolver resolver, ListenerCertificate certificate, ClientGate gate, ILogger logger, DnsDotMetrics metrics, EpollLoopGroup? loops = null)
    {
        _loops = loops;
        _resolver = resolver;
        _certificate = certificate;
        _gate = gate;
        _logger = logger;
        _metrics = metrics;
    }

    /// <inheritdoc/>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        Gateway.Sdk.Networking.NetAddress client = connection.Client.Address;
        if (!_gate.TryOpenConnection(client))
        {
            return;
        }

        _metrics.ClientConnectionsOpened.Add(1);
        // Over the socket's plain stream: the handshake has its own timeout and the session enforces the host's idle
        // limit itself (see StreamSession), so the SDK's idle-timeout wrapper would only add work to every read.
        LoopSocket? loop = _loops?.TryAdd(connection.Socket);
        Stream inner = loop is null ? new NetworkStream(connection.Socket, ownsSocket: false) : new LoopStream(loop);
        var tls = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            if (!await TlsHandshake.TryAuthenticateAsync(tls, _certificate, Alpn, _resolver.Snapshot.Options.HandshakeTimeoutMs, connection, _gate, _logger, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var session = new StreamSession(tls, _resolver, _gate, client, DnsTransport.Tls, LoopStream.ResetAction(connection.Socket, loop), _metrics, cancellationToken, connection.IdleTimeout);
            string reason = await session.RunAsync().ConfigureAwait(false);
            DnsDotLog.ClientConnectionEnded(_logger, connection.Client.ToString(), reason);
        }
        finally
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            // Off the loop before the host closes the socket (nothing left waiting on it).
            loop?.Abort();
            loop?.Dispose();
            _gate.CloseConnection(client);
            _metrics.ClientConnectionsClosed.Add(1);
        }
    }
}
