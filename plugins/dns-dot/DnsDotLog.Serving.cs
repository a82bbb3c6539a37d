using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot;

/// <summary>
/// The log messages of serving and upstream transports (client admission, listeners, plain/DoH upstreams,
/// bootstrap): event ids 150–199, 250–299 and 450–499 of the plugin's range (DnsDotLog.cs holds the rest).
/// </summary>
internal static partial class DnsDotLog
{
    [LoggerMessage(150, LogLevel.Warning, "dns-dot: {Endpoint} can be reached from public addresses and allowClients admits every address: this is an open resolver; list the networks you serve in dns-dot.allowClients (and set rateLimit)")]
    public static partial void OpenResolver(ILogger logger, string endpoint);

    [LoggerMessage(151, LogLevel.Information, "dns-dot serving {Endpoint} ({Protocol})")]
    public static partial void ServingEncrypted(ILogger logger, string endpoint, string protocol);

    [LoggerMessage(152, LogLevel.Information, "dns-dot: certificate {CertFile} loaded ({Subject}, valid until {NotAfter:u})")]
    public static partial void CertificateLoaded(ILogger logger, string certFile, string subject, DateTime notAfter);

    [LoggerMessage(153, LogLevel.Warning, "dns-dot: certificate {CertFile} changed but cannot be used: {Reason}; still serving the previous certificate")]
    public static partial void CertificateReloadFailed(ILogger logger, string certFile, string reason);

    [LoggerMessage(154, LogLevel.Information, "dns-dot: no virtualTls/virtualHttps key, serving the default encrypted virtual endpoints {Endpoints} on the TUN")]
    public static partial void DefaultVirtualEncrypted(ILogger logger, string endpoints);

    [LoggerMessage(155, LogLevel.Warning, "dns-dot: offering the gateway's name resolver failed: {Reason}")]
    public static partial void NameResolverUnavailable(ILogger logger, string reason);

    [LoggerMessage(250, LogLevel.Warning, "upstream {Upstream}: cannot resolve {Host}: {Reason}; retrying")]
    public static partial void BootstrapFailed(ILogger logger, string upstream, string host, string reason);

    [LoggerMessage(251, LogLevel.Debug, "upstream {Upstream}: {Host} resolved to {Addresses} (ttl {Ttl} s)")]
    public static partial void BootstrapResolved(ILogger logger, string upstream, string host, string addresses, uint ttl);

    [LoggerMessage(252, LogLevel.Debug, "upstream {Upstream}: truncated UDP answer for {Name}: asking again over TCP")]
    public static partial void TruncatedRetry(ILogger logger, string upstream, string name);

    [LoggerMessage(253, LogLevel.Warning, "upstream {Upstream}: HTTP {Status} from the DoH server; check the URL path")]
    public static partial void HttpStatus(ILogger logger, string upstream, int status);

    [LoggerMessage(450, LogLevel.Warning, "client {Client} is not in dns-dot.allowClients (or is in denyClients): answered REFUSED ({Suppressed} more refusals since the last message)")]
    public static partial void ClientRefused(ILogger logger, string client, long suppressed);

    [LoggerMessage(451, LogLevel.Warning, "client {Client} is over dns-dot.rateLimit ({Qps} queries/s for its network): queries dropped, truncated or refused ({Suppressed} more since the last message)")]
    public static partial void ClientRateLimited(ILogger logger, string client, int qps, long suppressed);

    [LoggerMessage(452, LogLevel.Warning, "client {Client} already holds {Cap} connections (dns-dot.maxConnectionsPerClient): new connection closed ({Suppressed} more since the last message)")]
    public static partial void ClientConnectionCapped(ILogger logger, string client, int cap, long suppressed);

    [LoggerMessage(453, LogLevel.Warning, "client {Client}: connection closed: it does not read its answers ({Reason}; see clientWriteTimeoutMs, maxBufferedAnswerBytes) ({Suppressed} more since the last message)")]
    public static partial void ClientConnectionAborted(ILogger logger, string client, string reason, long suppressed);

    [LoggerMessage(454, LogLevel.Debug, "client {Client}: TLS handshake failed: {Reason}")]
    public static partial void ClientHandshakeFailed(ILogger logger, string client, string reason);

    [LoggerMessage(455, LogLevel.Warning, "query from {Client} would exceed 65,535 bytes when forwarded (its EDNS options are too large): answered FORMERR ({Suppressed} more since the last message)")]
    public static partial void OversizeQuery(ILogger logger, string client, long suppressed);
}
