namespace Gateway.Host.Plugins;

/// <summary>A plugin folder could not be loaded; the message names the folder and says what to do.</summary>
internal sealed class PluginLoadException : Exception
{
    public PluginLoadException(string message)
        : base(message)
    {
    }

    public PluginLoadException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
