using Microsoft.Extensions.Logging;

namespace Gateway.Host.Cli;

/// <summary>Log messages of the command line (event ids 1800–1899).</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = 1800, Level = LogLevel.Critical, Message = "gateway failed to start: {Reason}")]
    public static partial void StartFailed(ILogger logger, string reason);
}
