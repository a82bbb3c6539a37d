using Gateway.Host.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Gateway.Host.Plugins;

/// <summary>
/// The logger factory given to a plugin: categories are prefixed with the plugin id ("echo.Listener"); the id itself
/// ("echo") and names already prefixed stay as they are. Applies the section's <c>logLevel</c> (and its reloads) to the
/// plugin's categories through <see cref="PluginLogLevels"/>.
/// </summary>
internal sealed class PluginLoggerFactory : ILoggerFactory
{
    private readonly ILoggerFactory _inner;
    private readonly string _pluginId;
    private readonly string _prefix;

    public PluginLoggerFactory(ILoggerFactory inner, string pluginId, IConfiguration? section = null)
    {
        _inner = inner;
        _pluginId = pluginId;
        _prefix = pluginId + ".";
        if (section is not null)
        {
            ApplyLevel(section);
            ChangeToken.OnChange(section.GetReloadToken, () => ApplyLevel(section));
        }
    }

    public ILogger CreateLogger(string categoryName) =>
        _inner.CreateLogger(categoryName == _pluginId || categoryName.StartsWith(_prefix, StringComparison.Ordinal) ? categoryName : _prefix + categoryName);

    /// <summary>Providers belong to the host; a plugin cannot add one.</summary>
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("logging providers are configured by the host");

    /// <summary>The host owns the inner factory.</summary>
    public void Dispose()
    {
    }

    /// <summary>The host validated the value (GatewayConfigReader); an unreadable one would mean "host.logLevel".</summary>
    private void ApplyLevel(IConfiguration section) =>
        PluginLogLevels.Set(_pluginId, VerbosityNames.TryParse(section["logLevel"], out LogLevel level) ? level : null);
}
