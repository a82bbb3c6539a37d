using Gateway.Sdk.Plugins;
using Microsoft.Extensions.FileSystemGlobbing;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Turns the <c>dns-dot.rules</c> globs into script files, and names the folders to watch. Globs are relative
/// to the config folder ("rules/*.csx", "rules/**/*.csx") or absolute; the files run in glob order, and in
/// ordinal path order within a glob. A glob without wildcards names a file that must exist.
/// </summary>
internal static class RuleFiles
{
    private static readonly char[] Wildcards = ['*', '?', '[', '{'];

    /// <summary>The script files, and errors for literal paths that do not exist.</summary>
    public static IReadOnlyList<string> Resolve(IReadOnlyList<string> globs, string configDirectory, List<PluginConfigError>? errors, Action<string, string>? matchesNothing = null)
    {
        var files = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int index = 0; index < globs.Count; index++)
        {
            string glob = globs[index];
            (string baseDirectory, string pattern) = Split(glob, configDirectory);
            if (pattern.IndexOfAny(Wildcards) < 0)
            {
                string file = Path.GetFullPath(Path.Combine(baseDirectory, pattern));
                if (!File.Exists(file))
                {
                    errors?.Add(new PluginConfigError($"rules:{index}", $"rule script '{file}' not found (paths are relative to the config file's folder)"));
                    continue;
                }

                if (seen.Add(file) && Trusted(file, index, errors))
                {
                    files.Add(file);
                }

                continue;
            }

            var matcher = new Matcher(StringComparison.Ordinal);
            matcher.AddInclude(pattern);
            var matched = new List<string>();
            if (Directory.Exists(baseDirectory))
            {
                foreach (string file in matcher.GetResultsInFullPath(baseDirectory))
                {
                    matched.Add(Path.GetFullPath(file));
                }
            }

            matched.Sort(StringComparer.Ordinal);
            if (matched.Count == 0)
            {
                matchesNothing?.Invoke(glob, baseDirectory);
            }

            foreach (string file in matched)
            {
                if (seen.Add(file) && Trusted(file, index, errors))
                {
                    files.Add(file);
                }
            }
        }

        return files;
    }

    // Scripts are code that runs in the gateway (DESIGN §7): refused, like sshd's StrictModes, when anyone but
    // their owner (root or the gateway's user) could have written them (issue 13). Checked only where errors are
    // reported (start, check, reload), so an untrusted script is named at its rules: entry and never compiled.
    private static bool Trusted(string file, int index, List<PluginConfigError>? errors)
    {
        if (errors is null || Gateway.Sdk.Security.FileTrust.CheckCodePath(file) is not { } problem)
        {
            return true;
        }

        errors.Add(new PluginConfigError($"rules:{index}", $"rule script '{file}' {problem}"));
        return false;
    }

    /// <summary>The folders whose changes can change the result of <see cref="Resolve"/>: (folder, recursive).</summary>
    public static IEnumerable<(string Directory, bool Recursive)> WatchedDirectories(IReadOnlyList<string> globs, string configDirectory)
    {
        foreach (string glob in globs)
        {
            (string baseDirectory, string pattern) = Split(glob, configDirectory);
            bool recursive = pattern.Contains('/') || pattern.Contains('\\');
            if (pattern.IndexOfAny(Wildcards) < 0)
            {
                // A literal path: watch the file's own folder.
                string file = Path.GetFullPath(Path.Combine(baseDirectory, pattern));
                yield return (Path.GetDirectoryName(file)!, false);
                continue;
            }

            yield return (baseDirectory, recursive);
        }
    }

    /// <summary>Splits a glob into the folder before its first wildcard segment and the pattern after it.</summary>
    private static (string BaseDirectory, string Pattern) Split(string glob, string configDirectory)
    {
        string normalized = glob.Replace('\\', '/');
        string[] segments = normalized.Split('/');
        int firstWild = Array.FindIndex(segments, s => s.IndexOfAny(Wildcards) >= 0);
        if (firstWild < 0)
        {
            firstWild = segments.Length - 1;
        }

        string prefix = string.Join('/', segments, 0, firstWild);
        string pattern = string.Join('/', segments, firstWild, segments.Length - firstWild);
        string baseDirectory = prefix.Length == 0
            ? (normalized.StartsWith('/') ? "/" : Path.GetFullPath(configDirectory))
            : Path.GetFullPath(prefix, configDirectory);
        return (baseDirectory, pattern);
    }
}
