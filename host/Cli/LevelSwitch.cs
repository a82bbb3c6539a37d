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

    /// <summary>A plugin's categories follow its own <c>logLevel</c> when one is set (<see cref="Plugins.PluginLogLevels"/>).</summary>
    public bool IsEnabled(string? category, LogLevel level) =>
        level >= (Plugins.PluginLogLevels.TryGet(category, out LogLevel pluginLevel) ? pluginLevel : Level);
}
