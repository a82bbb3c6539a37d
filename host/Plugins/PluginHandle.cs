using Gateway.Host.Networking;
using Gateway.Sdk.Plugins;

namespace Gateway.Host.Plugins;

/// <summary>The state of one plugin folder: loaded, started, failed.</summary>
internal sealed class PluginHandle
{
    public PluginHandle(string folder, string fingerprint)
    {
        Folder = folder;
        Fingerprint = fingerprint;
    }

    /// <summary>The plugin's folder (absolute).</summary>
    public string Folder { get; }

    /// <summary>The folder's file list with sizes and times when it was loaded; a change means "replaced".</summary>
    public string Fingerprint { get; }

    /// <summary>A build of the folder that was refused as a replacement (the old version kept serving): not retried until it changes.</summary>
    public string? RejectedFingerprint { get; set; }

    /// <summary>The plugin id, or the folder name when loading failed.</summary>
    public string Id { get; set; } = string.Empty;

    /// <summary>The McMaster loader owning the plugin's collectible load context, or null when not loaded.</summary>
    public McMaster.NETCore.Plugins.PluginLoader? Loader { get; set; }

    public IGatewayPlugin? Plugin { get; set; }

    public PluginContext? Context { get; set; }

    public PluginHandlerGuard? Guard { get; set; }

    /// <summary>True while started.</summary>
    public bool Running => Context is not null;

    /// <summary>Why the plugin is not running (load, validation or start failure), or null.</summary>
    public string? Failure { get; set; }
}
