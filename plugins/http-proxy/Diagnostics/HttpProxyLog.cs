using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>Log messages of the http-proxy plugin; event ids 100-199.</summary>
internal static partial class HttpProxyLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "http-proxy serving on {Endpoint}")]
    public static partial void Serving(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "http-proxy: no listen or virtual endpoints configured; staying idle")]
    public static partial void Idle(ILogger logger);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "client {Client}: malformed request ({Reason}); answered {Status} and closed")]
    public static partial void BadRequest(ILogger logger, string client, string reason, int status);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "client {Client} refused by the client ACL (allowClients/denyClients); answered 403")]
    public static partial void ClientDenied(ILogger logger, string client);

    [LoggerMessage(EventId = 104, Level = LogLevel.Debug, Message = "client {Client}: destination port {Port} is not allowed (allowedPorts/connectPorts)")]
    public static partial void PortDenied(ILogger logger, string client, int port);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "origin {Origin} unreachable: {Reason}; answered 502 (check the name resolves and the server listens)")]
    public static partial void OriginUnreachable(ILogger logger, string origin, string reason);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "origin {Origin} timed out ({Phase}); answered 504 (raise originConnectTimeoutSeconds/originResponseTimeoutSeconds if the origin is just slow)")]
    public static partial void OriginTimeout(ILogger logger, string origin, string phase);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "connection limit reached ({Max} clients, maxConnections); answered 503 to {Client}")]
    public static partial void ConnectionLimit(ILogger logger, int max, string client);

    [LoggerMessage(EventId = 108, Level = LogLevel.Debug, Message = "client {Client}: connection ended: {Reason}")]
    public static partial void ConnectionEnded(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 109, Level = LogLevel.Debug, Message = "origin {Origin}: invalid response ({Reason}); answered 502")]
    public static partial void BadResponse(ILogger logger, string origin, string reason);

    [LoggerMessage(EventId = 110, Level = LogLevel.Error, Message = "http-proxy could not bind {Endpoint}: {Reason}")]
    public static partial void BindFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "client {Client}: origin {Origin} switched protocols to {Protocol} (101); relaying bytes until both sides close")]
    public static partial void Upgraded(ILogger logger, string client, string origin, string protocol);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "client {Client}: destination {Destination} refused ({Rule}, denyDestinations); answered 403 (list it in allowDestinations if clients should reach it)")]
    public static partial void DestinationDenied(ILogger logger, string client, string destination, string rule);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "{Count} more '{Kind}' warnings were not logged (at most 5 of a kind per 10 s)")]
    public static partial void WarningsSuppressed(ILogger logger, long count, string kind);

    [LoggerMessage(EventId = 114, Level = LogLevel.Information, Message = "http-proxy: {File} reloaded, {Count} users")]
    public static partial void UsersReloaded(ILogger logger, string file, int count);

    [LoggerMessage(EventId = 115, Level = LogLevel.Error, Message = "http-proxy: users file {File} not loaded, the users loaded before stay: {Reason}")]
    public static partial void UsersFileError(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 116, Level = LogLevel.Warning, Message = "client {Client}: proxy authentication failed (user '{User}', {Protocol}); repeated failures from one address are slowed down")]
    public static partial void AuthFailed(ILogger logger, string client, string user, string protocol);

    [LoggerMessage(EventId = 119, Level = LogLevel.Warning, Message = "http-proxy: access log {Path}: {Reason}")]
    public static partial void AccessLogError(ILogger logger, string path, string reason);

    // 160-169: parent proxies (issue 18).
    [LoggerMessage(EventId = 160, Level = LogLevel.Warning, Message = "parent proxy {Parent} unreachable: {Reason}; skipped for {Seconds} s (requests it serves go to the next parent, or direct unless neverDirect)")]
    public static partial void ParentDown(ILogger logger, string parent, string reason, double seconds);

    [LoggerMessage(EventId = 161, Level = LogLevel.Information, Message = "parent proxy {Parent} is reachable again")]
    public static partial void ParentUp(ILogger logger, string parent);

    [LoggerMessage(EventId = 162, Level = LogLevel.Warning, Message = "no parent proxy serving {Destination} is up; {Outcome}")]
    public static partial void NoParentUp(ILogger logger, string destination, string outcome);

    // 150-159: live reload (issue 14); kept apart from the 1xx run so parallel additions don't collide.
    [LoggerMessage(EventId = 150, Level = LogLevel.Information, Message = "http-proxy: configuration reloaded; new connections get the new ACLs, ports, destination policy, parents, limits, timeouts and cache settings, open ones keep the rules they were admitted under")]
    public static partial void Reloaded(ILogger logger);

    [LoggerMessage(EventId = 151, Level = LogLevel.Warning, Message = "http-proxy: {Keys} changed by a reload apply when the plugin restarts (the origin connection pool keeps its settings)")]
    public static partial void ReloadNeedsRestart(ILogger logger, string keys);

    [LoggerMessage(EventId = 152, Level = LogLevel.Error, Message = "http-proxy: reload refused, keeping the running configuration: {Key}: {Error}")]
    public static partial void ReloadRefused(ILogger logger, string key, string error);
}
