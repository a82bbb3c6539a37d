using System.Net.Security;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server.Tls;

/// <summary>The server side of a DoT or DoH client's TLS handshake, bounded in time and counted when it fails.</summary>
internal static class TlsHandshake
{
    /// <summary>
    /// Authenticates as the server with the current certificate and the given ALPN protocols. False when the
    /// handshake failed or took longer than <paramref name="timeoutMs"/> (a client that connects and says nothing
    /// holds nothing for long): counted as dns.client.tls_handshake_errors, logged at debug level.
    /// </summary>
    public static async Task<bool> TryAuthenticateAsync(SslStream tls, ListenerCertificate certificate, List<SslApplicationProtocol> alpn, int timeoutMs,
        StreamConnection connection, ClientGate gate, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(timeoutMs);
        try
        {
            await tls.AuthenticateAsServerAsync(certificate.ServerOptions(alpn), timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException or ObjectDisposedException or TimeoutException)
        {
            gate.Metrics.HandshakeErrors.Add(1);
            if (logger.IsEnabled(LogLevel.Debug))
            {
                DnsDotLog.ClientHandshakeFailed(logger, connection.Client.ToString(), e is OperationCanceledException ? $"no handshake within {timeoutMs} ms" : e.Message);
            }

            return false;
        }
    }
}
