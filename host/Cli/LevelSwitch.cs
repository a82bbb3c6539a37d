using Microsoft.Extensions.Logging;

namespace Gateway.Host.Cli;

/// <summary>The minimum log level, settable after the logger factory exists (host.logLevel is known only after the config is read).</summary>
internal sealed class LevelSwitch
{
    public LevelSwitch(LogLevel level)
    {
        Level = level;
    }

    public LogLevel Level { get; set; }

    public bool IsEnabled(LogLevel level) => level >= Level;
}
