using Microsoft.Extensions.Logging;

namespace Gateway.Host.Configuration;

/// <summary>The log level names of --verbosity and <c>host.logLevel</c>.</summary>
internal static class VerbosityNames
{
    /// <summary>The accepted names, most to least quiet.</summary>
    public static readonly string[] All = ["error", "warn", "info", "debug"];

    /// <summary>Maps a name (case-insensitive) to a minimum log level.</summary>
    public static bool TryParse(string? name, out LogLevel level)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "error":
                level = LogLevel.Error;
                return true;
            case "warn":
            case "warning":
                level = LogLevel.Warning;
                return true;
            case "info":
            case "information":
                level = LogLevel.Information;
                return true;
            case "debug":
                level = LogLevel.Debug;
                return true;
            default:
                level = LogLevel.Information;
                return false;
        }
    }
}
