using Microsoft.Extensions.Logging;

namespace Gateway.Host.Plugins;

/// <summary>The logger factory given to a plugin: categories are prefixed with the plugin id ("echo.Listener").</summary>
internal sealed class PluginLoggerFactory : ILoggerFactory
{
    private readonly ILoggerFactory _inner;
    private readonly string _prefix;

    public PluginLoggerFactory(ILoggerFactory inner, string pluginId)
    {
        _inner = inner;
        _prefix = pluginId + ".";
    }

    public ILogger CreateLogger(string categoryName) =>
        _inner.CreateLogger(categoryName.StartsWith(_prefix, StringComparison.Ordinal) ? categoryName : _prefix + categoryName);

    /// <summary>Providers belong to the host; a plugin cannot add one.</summary>
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("logging providers are configured by the host");

    /// <summary>The host owns the inner factory.</summary>
    public void Dispose()
    {
    }
}
