using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Nat;

/// <summary>Log messages of the TCP NAT and its kernel listeners: event ids 3200–3299.</summary>
internal static partial class NatLog
{
    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "virtual TCP listener {Endpoint}: accept failed ({Error}); retrying")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, SocketError error);
}
