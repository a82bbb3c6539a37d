using Microsoft.Extensions.Logging;

namespace Gateway.Host.Plugins;

/// <summary>Log messages of plugin loading and lifetime (event ids 1100–1199).</summary>
internal static partial class PluginsLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "plugin {PluginId}: loaded {Assembly} from {Folder}")]
    public static partial void Loaded(ILogger logger, string pluginId, string assembly, string folder);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "plugin {Folder}: not loaded: {Reason}")]
    public static partial void LoadFailed(ILogger logger, string folder, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "plugin {PluginId}: started")]
    public static partial void Started(ILogger logger, string pluginId);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "plugin {PluginId}: start failed: {Reason}; the gateway and other plugins keep serving")]
    public static partial void StartFailed(ILogger logger, string pluginId, string reason);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "plugin {PluginId}: stopped")]
    public static partial void Stopped(ILogger logger, string pluginId);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "plugin {PluginId}: stop failed: {Reason}")]
    public static partial void StopFailed(ILogger logger, string pluginId, string reason);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "plugin {PluginId}: unloaded (load context collected)")]
    public static partial void Unloaded(ILogger logger, string pluginId);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Error, Message = "plugin {PluginId}: load context still alive after unload — leak (something still references the plugin's code)")]
    public static partial void UnloadLeak(ILogger logger, string pluginId);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "plugin folder {Folder} does not exist; plugins dropped there later are not picked up until it is created and the gateway restarted")]
    public static partial void FolderMissing(ILogger logger, string folder);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Information, Message = "plugin folder change: {What} {Folder}")]
    public static partial void FolderChanged(ILogger logger, string what, string folder);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Error, Message = "plugin {Folder}: id '{PluginId}' is already served by {Other}; not loaded")]
    public static partial void DuplicateId(ILogger logger, string folder, string pluginId, string other);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Error, Message = "plugin {PluginId}: configuration rejected, not started: {Error}")]
    public static partial void ConfigRejected(ILogger logger, string pluginId, string error);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Information, Message = "plugin {PluginId}: listen/virtual/limits changed in the config; restarting it")]
    public static partial void Restarting(ILogger logger, string pluginId);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Error, Message = "plugin {PluginId}: the new build was not taken, the running version keeps serving: {Reason}")]
    public static partial void ReplacementRefused(ILogger logger, string pluginId, string reason);

    [LoggerMessage(EventId = 1114, Level = LogLevel.Information, Message = "plugin {PluginId}: old version draining (up to {Seconds} s); the new version serves new connections")]
    public static partial void Draining(ILogger logger, string pluginId, int seconds);

    [LoggerMessage(EventId = 1115, Level = LogLevel.Warning, Message = "plugin {PluginId}: drain timeout reached with {Connections} connection(s) still open; closing them")]
    public static partial void DrainTimedOut(ILogger logger, string pluginId, int connections);

    [LoggerMessage(EventId = 1116, Level = LogLevel.Error, Message = "plugin {PluginId}: its replacement failed to start and the running version could not take back its exclusive resources (port, socket): {Reason}; it is not fully serving until the plugin is replaced again or the gateway restarted")]
    public static partial void ReclaimFailed(ILogger logger, string pluginId, string reason);

    [LoggerMessage(EventId = 1117, Level = LogLevel.Debug, Message = "plugin {PluginId}: memory after the unload: GC heap {HeapMiB:F1} MiB, committed {CommittedMiB:F1} MiB, RSS {RssMiB:F1} MiB")]
    public static partial void MemoryAfterUnload(ILogger logger, string pluginId, double heapMiB, double committedMiB, double rssMiB);
}
