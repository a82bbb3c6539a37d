using System.Reflection;
using System.Runtime.Loader;

namespace Gateway.Host.Plugins;

/// <summary>
/// One collectible load context per plugin folder (DESIGN §4). Dependencies resolve through the folder's
/// deps.json (<see cref="AssemblyDependencyResolver"/>); the shared contract assemblies always come from the host.
/// Managed assemblies are loaded from memory, not mapped from disk, so a plugin's files can be replaced or deleted
/// while it runs (drop-in updates) without touching the running code.
/// </summary>
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;

    public PluginLoadContext(string pluginId, string mainAssemblyPath)
        : base("plugin:" + pluginId, isCollectible: true)
    {
        _resolver = new AssemblyDependencyResolver(mainAssemblyPath);
    }

    /// <summary>
    /// True for assemblies that must be shared with the host so that plugin and host agree on types:
    /// Gateway.Sdk, Microsoft.Extensions.*.Abstractions and Microsoft.Extensions.Primitives.
    /// </summary>
    public static bool IsShared(string? name) =>
        name is not null &&
        (name == "Gateway.Sdk" ||
         name == "Microsoft.Extensions.Primitives" ||
         (name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) && name.EndsWith(".Abstractions", StringComparison.Ordinal)));

    /// <summary>Loads an assembly file of this plugin from memory (with its pdb when present, for line numbers in logs).</summary>
    public Assembly LoadFromFileInMemory(string path)
    {
        using var assembly = new MemoryStream(File.ReadAllBytes(path));
        string pdb = Path.ChangeExtension(path, ".pdb");
        if (File.Exists(pdb))
        {
            using var symbols = new MemoryStream(File.ReadAllBytes(pdb));
            return LoadFromStream(assembly, symbols);
        }

        return LoadFromStream(assembly);
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName.Name))
        {
            // Null defers to the host's (default) context; a missing host copy then fails loudly.
            return null;
        }

        string? path = _resolver.ResolveAssemblyToPath(assemblyName);
        return path is null ? null : LoadFromFileInMemory(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        string? path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
