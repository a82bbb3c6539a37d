using Microsoft.Extensions.Logging;

namespace Gateway.Host.Admin;

/// <summary>Log messages of the admin listener, its API and the console page (event ids 2100–2199).</summary>
internal static partial class AdminLog
{
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "admin listener on http://{Endpoint} (HTTP/1.1 and h2c): /healthz /readyz /metrics /api/v1 and the console page at /; token {TokenState}")]
    public static partial void Listening(ILogger logger, string endpoint, string tokenState);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "admin listener could not bind {Endpoint} ({Error}); check host.admin.listen is a local address and that the port is free")]
    public static partial void BindFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "admin listener {Endpoint} stopped")]
    public static partial void Stopped(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Error, Message = "admin listener: answering {Method} {Path} failed ({Error}); answered 500")]
    public static partial void HandlerFailed(ILogger logger, string method, string path, string error);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Error, Message = "plugin {PluginId}: its admin route {Method} {Path} threw ({Error}); answered 500 — fix the plugin's handler")]
    public static partial void PluginRouteFailed(ILogger logger, string pluginId, string method, string path, string error);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "admin listener: refused a request from {Remote} for Host '{Host}' (421): not localhost, the listen address or host.admin.allowedHosts — a DNS-rebinding attempt, or add the name to allowedHosts")]
    public static partial void HostRefused(ILogger logger, string remote, string host);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning, Message = "admin listener: {Count} request(s) without a valid token in the last minute, the last from {Remote} for {Path} (401)")]
    public static partial void Unauthorized(ILogger logger, int count, string remote, string path);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Information, Message = "config reload requested through the admin API by {Remote}: {Result}")]
    public static partial void ReloadRequested(ILogger logger, string remote, string result);
}
