using Microsoft.Extensions.Logging;

namespace Gateway.Host.Runtime;

/// <summary>Log messages of the gateway's start, reload and stop (event ids 1000–1099).</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "gateway {Version} starting with {ConfigFile}")]
    public static partial void Starting(ILogger logger, string version, string configFile);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Error}")]
    public static partial void UnknownSection(ILogger logger, string error);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "config reload rejected, keeping the running config: {Error}")]
    public static partial void ReloadRejected(ILogger logger, string error);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "config reloaded from {ConfigFile}")]
    public static partial void Reloaded(ILogger logger, string configFile);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "host.{Key} changed in the config; restart the gateway to apply it")]
    public static partial void RestartNeeded(ILogger logger, string key);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "gateway stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "gateway stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "plugin {PluginId}: not serving ({Reason})")]
    public static partial void PluginNotServing(ILogger logger, string pluginId, string reason);

    [LoggerMessage(EventId = 1050, Level = LogLevel.Debug, Message = "systemd notified: {State}")]
    public static partial void SystemdNotified(ILogger logger, string state);

    [LoggerMessage(EventId = 1051, Level = LogLevel.Information, Message = "systemd watchdog: pinging every {Seconds} s")]
    public static partial void SystemdWatchdog(ILogger logger, double seconds);
}
