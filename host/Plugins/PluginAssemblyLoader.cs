using System.Reflection;
using System.Runtime.CompilerServices;
using Gateway.Sdk.Plugins;
using McMaster.NETCore.Plugins;

namespace Gateway.Host.Plugins;

/// <summary>
/// Loads one plugin folder through McMaster.NETCore.Plugins (DESIGN §4) and creates the plugin instance. The package
/// does the load context: collectible, dependencies from the folder's deps.json, the shared assemblies from the host
/// (<see cref="HostSharedAssemblies"/>), managed files read into memory and native libraries shadow-copied, so a
/// running plugin's files can be replaced or deleted (drop-in updates). What it lacks is here: choosing the main
/// assembly, refusing a folder that carries Gateway.Sdk.dll or needs a newer SDK (or shared assembly) than the host
/// has, and resolving a shared framework the host does not reference (<see cref="SharedFrameworkResolver"/>).
/// </summary>
internal static class PluginAssemblyLoader
{
    /// <summary>A loaded plugin: its loader (owning the load context), entry instance and main assembly name.</summary>
    public sealed record Result(PluginLoader Loader, IGatewayPlugin Plugin, string AssemblyName);

    /// <summary>
    /// Loads <paramref name="folder"/>. The main assembly is the one named by the folder's single *.deps.json (the
    /// build output of an EnableDynamicLoading project), or else the only dll holding an <see cref="IGatewayPlugin"/>.
    /// Throws <see cref="PluginLoadException"/> with a message for the operator.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Result Load(string folder)
    {
        string display = DisplayName(folder);
        if (File.Exists(Path.Combine(folder, "Gateway.Sdk.dll")))
        {
            // A private SDK would give the plugin its own IGatewayPlugin type: refused up front rather than left to the
            // package, which would quietly prefer the host's copy and hide a packaging mistake.
            throw new PluginLoadException($"Gateway.Sdk.dll found in {display} — remove it (plugins must use the host's SDK: reference it with Private=false / ExcludeAssets=runtime)");
        }

        string[] depsFiles = Directory.GetFiles(folder, "*.deps.json");
        if (depsFiles.Length == 1)
        {
            string name = Path.GetFileName(depsFiles[0])[..^".deps.json".Length];
            string main = Path.Combine(folder, name + ".dll");
            if (!File.Exists(main))
            {
                throw new PluginLoadException($"{display}: {Path.GetFileName(depsFiles[0])} names {name}.dll, which is missing — copy the whole publish output");
            }

            return LoadMain(main, display);
        }

        // No (or several) deps.json: find the one dll that holds a plugin type.
        string[] dlls = Directory.GetFiles(folder, "*.dll");
        if (dlls.Length == 0)
        {
            throw new PluginLoadException($"{display}: no .dll files — copy the plugin's publish output into the folder");
        }

        Array.Sort(dlls, StringComparer.Ordinal);
        foreach (string dll in dlls)
        {
            if (LoadCandidate(dll, display) is { } result)
            {
                return result;
            }
        }

        throw new PluginLoadException($"{display}: no dll with an IGatewayPlugin class found (add the plugin's .deps.json or keep one plugin dll per folder)");
    }

    /// <summary>"plugins/echo" style name: the folder and its parent.</summary>
    public static string DisplayName(string folder)
    {
        string trimmed = folder.TrimEnd(Path.DirectorySeparatorChar);
        string? parent = Path.GetFileName(Path.GetDirectoryName(trimmed));
        return parent is { Length: > 0 } ? parent + "/" + Path.GetFileName(trimmed) : trimmed;
    }

    private static PluginLoader CreateLoader(string mainAssembly)
    {
        // A shared assembly the plugin does not carry resolves from the host anyway (the plugin's context finds no copy
        // and falls back to the default one), lazily, when first used. Only a copy the plugin does carry needs McMaster's
        // "prefer the host's" rule — and that rule loads the whole reference closure of each name it is given into the
        // host at once (System.Private.Xml, Linq.Expressions, Net.Quic…: ~8 MB of idle RSS for nothing), so it gets
        // just those names. (Gateway.Sdk.dll in the folder is refused above.)
        List<AssemblyName> carried = HostSharedAssemblies.CarriedBy(Path.GetDirectoryName(mainAssembly)!);
        PluginLoader loader = PluginLoader.CreateFromAssemblyFile(mainAssembly, isUnloadable: true, [], config =>
        {
            foreach (AssemblyName name in carried)
            {
                config.SharedAssemblies.Add(name);
            }

            config.LoadInMemory = true;
        });
        SharedFrameworkResolver.Attach(loader.LoadContext, Path.ChangeExtension(mainAssembly, ".runtimeconfig.json"));
        return loader;
    }

    private static Result LoadMain(string main, string display)
    {
        PluginLoader? loader = null;
        try
        {
            loader = CreateLoader(main);
            Assembly assembly = loader.LoadDefaultAssembly();
            return Create(loader, assembly, display);
        }
        catch (PluginLoadException)
        {
            loader?.Dispose();
            throw;
        }
        catch (Exception ex) when (IsLoadFailure(ex))
        {
            loader?.Dispose();
            throw new PluginLoadException($"{display}: cannot load ({ex.GetType().Name}: {ex.Message})", ex);
        }
    }

    /// <summary>The plugin in <paramref name="dll"/>, or null when the dll is not a plugin (not .NET, or no plugin class).</summary>
    private static Result? LoadCandidate(string dll, string display)
    {
        PluginLoader loader = CreateLoader(dll);
        try
        {
            Assembly assembly;
            try
            {
                assembly = loader.LoadDefaultAssembly();
            }
            catch (BadImageFormatException)
            {
                loader.Dispose();
                return null;
            }

            // Before looking at types: a plugin built against a newer SDK fails to bind its types here, and the
            // operator should read why, not "no plugin class found".
            if (HostSharedAssemblies.Mismatch(assembly, display) is { } mismatch)
            {
                throw new PluginLoadException(mismatch);
            }

            if (FindPluginTypes(assembly).Count == 1)
            {
                return Create(loader, assembly, display);
            }

            loader.Dispose();
            return null;
        }
        catch (PluginLoadException)
        {
            loader.Dispose();
            throw;
        }
        catch (Exception ex) when (IsLoadFailure(ex))
        {
            loader.Dispose();
            throw new PluginLoadException($"{display}: cannot load ({ex.GetType().Name}: {ex.Message})", ex);
        }
    }

    private static bool IsLoadFailure(Exception ex) =>
        ex is IOException or BadImageFormatException or ReflectionTypeLoadException or TypeLoadException or FileLoadException or MissingMethodException or TargetInvocationException or UnauthorizedAccessException or InvalidOperationException;

    private static Result Create(PluginLoader loader, Assembly assembly, string display)
    {
        if (HostSharedAssemblies.Mismatch(assembly, display) is { } mismatch)
        {
            throw new PluginLoadException(mismatch);
        }

        List<Type> types = FindPluginTypes(assembly);
        if (types.Count != 1)
        {
            throw new PluginLoadException(types.Count == 0
                ? $"{display}: {assembly.GetName().Name} has no public IGatewayPlugin class with a parameterless constructor"
                : $"{display}: {assembly.GetName().Name} has {types.Count} IGatewayPlugin classes; a folder holds exactly one plugin");
        }

        var plugin = (IGatewayPlugin)Activator.CreateInstance(types[0])!;
        return new Result(loader, plugin, assembly.GetName().Name ?? display);
    }

    private static List<Type> FindPluginTypes(Assembly assembly)
    {
        var found = new List<Type>();
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException ex)
        {
            types = Array.FindAll(ex.Types, t => t is not null)!;
        }

        foreach (Type type in types)
        {
            if (type.IsClass && !type.IsAbstract && typeof(IGatewayPlugin).IsAssignableFrom(type) && type.GetConstructor(Type.EmptyTypes) is not null)
            {
                found.Add(type);
            }
        }

        return found;
    }
}
