using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>Log messages of the host sockets (event ids 1300–1399).</summary>
internal static partial class SocketsLog
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "plugin {PluginId}: {Protocol} {Endpoint}: receive failed ({Error}); still serving")]
    public static partial void ReceiveFailed(ILogger logger, string pluginId, string protocol, NetEndpointText endpoint, string error);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "plugin {PluginId}: tcp {Endpoint}: connection limit {Limit} reached, closing new connections (raise maxConnections or host.limits.maxConnections)")]
    public static partial void ConnectionLimitReached(ILogger logger, string pluginId, NetEndpointText endpoint, int limit);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Debug, Message = "plugin {PluginId}: {Protocol} {Endpoint} closed")]
    public static partial void Closed(ILogger logger, string pluginId, string protocol, NetEndpointText endpoint);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "plugin {PluginId}: tcp {Endpoint}: {Count} connection(s) still open after shutdown grace; closed them")]
    public static partial void ConnectionsAbandoned(ILogger logger, string pluginId, NetEndpointText endpoint, int count);
}

/// <summary>Formats an endpoint lazily in log messages (the struct avoids formatting when the level is off).</summary>
internal readonly record struct NetEndpointText(Gateway.Sdk.Networking.NetEndpoint Endpoint)
{
    public override string ToString() => Endpoint.ToString();
}
