using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot;

/// <summary>All log messages of the dns-dot plugin (event ids 100–599).</summary>
internal static partial class DnsDotLog
{
    [LoggerMessage(100, LogLevel.Information, "dns-dot serving {Endpoint} (UDP and TCP)")]
    public static partial void Serving(ILogger logger, string endpoint);

    [LoggerMessage(101, LogLevel.Information, "dns-dot section absent: plugin idle (no listeners, no upstream connections)")]
    public static partial void Idle(ILogger logger);

    [LoggerMessage(102, LogLevel.Information, "dns-dot: no virtual: key, serving the default virtual endpoints {Endpoints} on the TUN")]
    public static partial void DefaultVirtual(ILogger logger, string endpoints);

    [LoggerMessage(103, LogLevel.Warning, "dns-dot: no upstreams configured: every forwarded query gets SERVFAIL; add dns-dot.upstreams")]
    public static partial void NoUpstreams(ILogger logger);

    [LoggerMessage(104, LogLevel.Information, "dns-dot: configuration reloaded ({Changes})")]
    public static partial void Reloaded(ILogger logger, string changes);

    [LoggerMessage(105, LogLevel.Debug, "dns-dot: configuration reloaded; nothing in the dns-dot section changed")]
    public static partial void ReloadUnchanged(ILogger logger);

    [LoggerMessage(106, LogLevel.Warning, "dns-dot: configuration reload not applied, still running the previous dns-dot configuration: {Reason}; fix the file and save it again")]
    public static partial void ReloadFailed(ILogger logger, string reason);

    [LoggerMessage(107, LogLevel.Information, "dns-dot: upstream {Upstream} removed by a reload; its connections are closed after a drain of {DrainMs} ms")]
    public static partial void UpstreamRetiring(ILogger logger, string upstream, long drainMs);

    [LoggerMessage(108, LogLevel.Information, "dns-dot section removed by a reload: plugin idle (listeners closed, upstreams drained)")]
    public static partial void Deactivated(ILogger logger);

    [LoggerMessage(200, LogLevel.Warning, "upstream {Upstream}: {Reason}; nothing is accepted from it until this is fixed (check tlsName, caFile and spkiPins)")]
    public static partial void TlsFailure(ILogger logger, string upstream, string reason);

    [LoggerMessage(201, LogLevel.Warning, "upstream {Upstream}: cannot connect: {Reason}; retrying with back-off")]
    public static partial void ConnectFailure(ILogger logger, string upstream, string reason);

    [LoggerMessage(202, LogLevel.Information, "upstream {Upstream} is answering again")]
    public static partial void UpstreamRecovered(ILogger logger, string upstream);

    [LoggerMessage(203, LogLevel.Debug, "upstream {Upstream}: connection closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, string upstream, string reason);

    [LoggerMessage(205, LogLevel.Debug, "upstream {Upstream}: query attempt failed: {Reason}")]
    public static partial void QueryFailed(ILogger logger, string upstream, string reason);

    [LoggerMessage(204, LogLevel.Debug, "upstream {Upstream}: dropped a response that matches no query in flight (id {Id})")]
    public static partial void UnmatchedResponse(ILogger logger, string upstream, int id);

    [LoggerMessage(300, LogLevel.Warning, "rules forwarded {Name} to group '{Group}', which is not configured under dns-dot.groups: answered SERVFAIL")]
    public static partial void UnknownGroup(ILogger logger, string name, string group);

    [LoggerMessage(301, LogLevel.Warning, "rule evaluation failed for {Name}: answered SERVFAIL ({Error})")]
    public static partial void RuleFailed(ILogger logger, string name, string error);

    [LoggerMessage(400, LogLevel.Debug, "client {Client}: TCP connection ended: {Reason}")]
    public static partial void ClientConnectionEnded(ILogger logger, string client, string reason);

    [LoggerMessage(401, LogLevel.Debug, "no upstream answered {Name} in time: SERVFAIL")]
    public static partial void UpstreamTimeout(ILogger logger, string name);
}
