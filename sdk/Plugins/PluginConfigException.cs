namespace Gateway.Sdk.Plugins;

/// <summary>
/// Thrown by a plugin (typically from <see cref="IGatewayPlugin.StartAsync"/>) for a configuration problem;
/// the host reports it as file:line:col with the key path, without a stack trace.
/// </summary>
public sealed class PluginConfigException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="keyPath">The key path below the plugin's section ("upstreams:0:address").</param>
    /// <param name="message">What is wrong and what to do.</param>
    public PluginConfigException(string keyPath, string message)
        : base(message)
    {
        KeyPath = keyPath;
    }

    /// <summary>The key path below the plugin's section.</summary>
    public string KeyPath { get; }
}
