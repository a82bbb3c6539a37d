using Gateway.Sdk.Security;

namespace Gateway.Host.Plugins;

/// <summary>
/// Whether a plugin folder may be loaded at all (issue 13 "secrets and code"): a plugin runs as the gateway, usually
/// root, so whoever can write its folder, any file in it, or the folder holding it can run code as root. The rule is
/// sshd's StrictModes (<see cref="FileTrust.CheckCodePath"/>): nothing in it writable by group or others, nothing
/// owned by a user other than root or the gateway's own.
/// </summary>
internal static class PluginTrust
{
    /// <summary>
    /// Null when every path of the plugin folder may be trusted; otherwise one line naming the first path that may not,
    /// why, and what to do.
    /// </summary>
    public static string? Check(string folder)
    {
        if (FileTrust.CheckCodePath(folder) is { } problem)
        {
            return Refusal(folder, problem);
        }

        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"{folder} could not be listed ({ex.Message}); the plugin is not loaded";
        }

        foreach (string entry in entries)
        {
            if (FileTrust.CheckCodePath(entry) is { } entryProblem)
            {
                return Refusal(entry, entryProblem);
            }
        }

        return null;
    }

    private static string Refusal(string path, string problem) =>
        $"{path} {problem}; a plugin runs with the gateway's rights, so the plugin is not loaded (fix it, then replace or touch a file of the folder, or restart)";
}
