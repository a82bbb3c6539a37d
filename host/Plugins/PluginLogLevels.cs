using Microsoft.Extensions.Logging;

namespace Gateway.Host.Plugins;

/// <summary>
/// The per-plugin log levels (<c>&lt;id&gt;.logLevel</c>) that the host's log filter applies to every category of a
/// plugin (the id itself, or "&lt;id&gt;.anything"), instead of <c>host.logLevel</c>.
/// </summary>
/// <remarks>
/// Process-wide on purpose: the logging filter is installed when the logger factory is built, before the config is
/// read, and it must see levels that change on reload without rebuilding loggers. Plugin ids are unique in a gateway;
/// the filter runs on every log call, so the lookup is a span-keyed dictionary read of an immutable snapshot.
/// </remarks>
internal static class PluginLogLevels
{
    private static Dictionary<string, LogLevel> s_levels = new(StringComparer.Ordinal);

    /// <summary>Sets (or with null removes) the level of <paramref name="pluginId"/>'s categories.</summary>
    public static void Set(string pluginId, LogLevel? level)
    {
        lock (typeof(PluginLogLevels))
        {
            var next = new Dictionary<string, LogLevel>(s_levels, StringComparer.Ordinal);
            if (level is { } value)
            {
                next[pluginId] = value;
            }
            else
            {
                next.Remove(pluginId);
            }

            Volatile.Write(ref s_levels, next);
        }
    }

    /// <summary>The level set for the plugin that <paramref name="category"/> belongs to, if any.</summary>
    public static bool TryGet(string? category, out LogLevel level)
    {
        Dictionary<string, LogLevel> levels = Volatile.Read(ref s_levels);
        if (levels.Count == 0 || string.IsNullOrEmpty(category))
        {
            level = LogLevel.None;
            return false;
        }

        // Plugin ids hold no '.', so the id is what comes before the first one.
        ReadOnlySpan<char> id = category.AsSpan();
        int dot = id.IndexOf('.');
        if (dot >= 0)
        {
            id = id[..dot];
        }

        return levels.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(id, out level);
    }
}
