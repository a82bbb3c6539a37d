using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace GatewayPlugin1;

/// <summary>
/// Every log message of the plugin, with its event id. Ids are per plugin (the category, "gateway-plugin-id", tells
/// plugins apart); give each message one, or the console shows a hash such as [1929458206].
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "serving on {Count} endpoint(s)")]
    public static partial void Serving(ILogger logger, int count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "tcp {Client}: line longer than {Limit} bytes, closing")]
    public static partial void LineTooLong(ILogger logger, NetEndpoint client, int limit);
}
