using Microsoft.Extensions.Logging;

namespace Gateway.Host.Dispatch;

/// <summary>Log messages of the dispatcher: event ids 3100–3199 (the NAT's are in NatLog, 3200–3299).</summary>
internal static partial class DispatchLog
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Warning, Message = "tunnel route {Route} threw while sending a packet; the packet was dropped")]
    public static partial void RouteFailed(ILogger logger, string route, Exception exception);
}
