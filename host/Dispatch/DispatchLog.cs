using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Dispatch;

/// <summary>Log messages of the dispatcher and virtual endpoints: event ids 3100–3299.</summary>
internal static partial class DispatchLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Warning, Message = "tunnel route {Route} threw while sending a packet; the packet was dropped")]
    public static partial void RouteFailed(ILogger logger, string route, Exception exception);

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "virtual TCP listener {Endpoint}: accept failed ({Error}); retrying")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, SocketError error);
}
