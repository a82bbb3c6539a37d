using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Text.Json;

namespace Gateway.Host.Plugins;

/// <summary>
/// Resolves assemblies of a shared framework a plugin names in its runtimeconfig.json (e.g. Microsoft.AspNetCore.App
/// for a plugin with a DoH or Kestrel listener) from the installed framework of the running runtime version, into the
/// host's (default) context. A plugin's build output never carries framework assemblies; when the host itself does not
/// reference that framework the default context cannot bind them, and McMaster's loader (which resolves only the
/// plugin's own deps.json) gives up. Loading them into the default context shares them between plugins and keeps them
/// out of the collectible plugin contexts — framework code is not plugin code and is not unloaded with it.
/// </summary>
internal static class SharedFrameworkResolver
{
    private static readonly object LoadLock = new();

    // Framework directories whose assemblies the default context resolves too (each hooked once).
    private static readonly HashSet<string> DefaultHooked = new(StringComparer.Ordinal);

    /// <summary>Hooks <paramref name="context"/>'s Resolving event with the frameworks named by <paramref name="runtimeConfigPath"/>.</summary>
    public static void Attach(AssemblyLoadContext context, string runtimeConfigPath)
    {
        string[] directories = FrameworkDirectories(runtimeConfigPath);
        if (directories.Length == 0)
        {
            return;
        }

        context.Resolving += (_, name) => Resolve(directories, name);

        // A framework assembly loaded into the default context binds its own references there (Kestrel.Core needs
        // Hosting.Server.Abstractions, ...): the default context must find them in the same directories.
        lock (DefaultHooked)
        {
            string[] fresh = directories.Where(DefaultHooked.Add).ToArray();
            if (fresh.Length > 0)
            {
                AssemblyLoadContext.Default.Resolving += (_, name) => Resolve(fresh, name);
            }
        }
    }

    /// <summary>The installed directories of the non-core frameworks the runtimeconfig names (same major.minor as the running runtime).</summary>
    public static string[] FrameworkDirectories(string runtimeConfigPath)
    {
        var names = new List<string>();
        try
        {
            if (!File.Exists(runtimeConfigPath))
            {
                return [];
            }

            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(runtimeConfigPath));
            if (!document.RootElement.TryGetProperty("runtimeOptions", out JsonElement options))
            {
                return [];
            }

            if (options.TryGetProperty("framework", out JsonElement single))
            {
                AddName(names, single);
            }

            if (options.TryGetProperty("frameworks", out JsonElement many) && many.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement framework in many.EnumerateArray())
                {
                    AddName(names, framework);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            // An unreadable runtimeconfig names no extra framework; the plugin then fails on the missing assembly itself.
            return [];
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ is where the running runtime lives; its siblings are the others.
        string runtime = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
        string? shared = Path.GetDirectoryName(Path.GetDirectoryName(runtime));
        if (shared is null)
        {
            return [];
        }

        var directories = new List<string>();
        Version running = Environment.Version;
        foreach (string name in names)
        {
            string root = Path.Combine(shared, name);
            if (!Directory.Exists(root))
            {
                continue;
            }

            // The newest patch of the running major.minor, as the muxer's roll-forward would pick for the host.
            Version? best = null;
            foreach (string candidate in Directory.GetDirectories(root))
            {
                if (Version.TryParse(Path.GetFileName(candidate), out Version? version) && version.Major == running.Major && version.Minor == running.Minor && (best is null || version > best))
                {
                    best = version;
                }
            }

            if (best is not null)
            {
                directories.Add(Path.Combine(root, best.ToString()));
            }
        }

        return [.. directories];
    }

    private static void AddName(List<string> names, JsonElement framework)
    {
        if (framework.TryGetProperty("name", out JsonElement name) && name.GetString() is { Length: > 0 } value && value != "Microsoft.NETCore.App")
        {
            names.Add(value);
        }
    }

    private static Assembly? Resolve(string[] directories, AssemblyName name)
    {
        if (name.Name is null)
        {
            return null;
        }

        foreach (string directory in directories)
        {
            string path = Path.Combine(directory, name.Name + ".dll");
            if (!File.Exists(path))
            {
                continue;
            }

            lock (LoadLock)
            {
                // Another plugin may have loaded it already: the default context then binds it by name.
                foreach (Assembly loaded in AssemblyLoadContext.Default.Assemblies)
                {
                    if (string.Equals(loaded.GetName().Name, name.Name, StringComparison.Ordinal))
                    {
                        return loaded;
                    }
                }

                return AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
            }
        }

        return null;
    }
}
