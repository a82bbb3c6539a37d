using System.Reflection;
using System.Runtime.CompilerServices;
using Gateway.Sdk;
using Gateway.Sdk.Plugins;

namespace Gateway.Host.Plugins;

/// <summary>Loads one plugin folder into its own <see cref="PluginLoadContext"/> and creates the plugin instance.</summary>
internal static class PluginAssemblyLoader
{
    /// <summary>A loaded plugin: its context, entry instance and main assembly name.</summary>
    public sealed record Result(PluginLoadContext Context, IGatewayPlugin Plugin, string AssemblyName);

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
            throw new PluginLoadException($"Gateway.Sdk.dll found in {display} — remove it (plugins must use the host's SDK: reference it with Private=false / ExcludeAssets=runtime)");
        }

        string[] depsFiles = Directory.GetFiles(folder, "*.deps.json");
        string? main = null;
        if (depsFiles.Length == 1)
        {
            string name = Path.GetFileName(depsFiles[0])[..^".deps.json".Length];
            main = Path.Combine(folder, name + ".dll");
            if (!File.Exists(main))
            {
                throw new PluginLoadException($"{display}: {Path.GetFileName(depsFiles[0])} names {name}.dll, which is missing — copy the whole publish output");
            }
        }

        PluginLoadContext? context = null;
        try
        {
            if (main is not null)
            {
                context = new PluginLoadContext(Path.GetFileName(folder), main);
                return Create(context, context.LoadFromFileInMemory(main), display);
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
                var probe = new PluginLoadContext(Path.GetFileName(folder), dll);
                Assembly assembly;
                try
                {
                    assembly = probe.LoadFromFileInMemory(dll);
                }
                catch (BadImageFormatException)
                {
                    probe.Unload();
                    continue;
                }

                // Before looking at types: a plugin built against a newer SDK fails to bind its types here, and the
                // operator should read why, not "no plugin class found".
                if (SdkMismatch(assembly, display) is { } mismatch)
                {
                    probe.Unload();
                    throw new PluginLoadException(mismatch);
                }

                if (FindPluginTypes(assembly).Count == 1)
                {
                    context = probe;
                    return Create(context, assembly, display);
                }

                probe.Unload();
            }

            throw new PluginLoadException($"{display}: no dll with an IGatewayPlugin class found (add the plugin's .deps.json or keep one plugin dll per folder)");
        }
        catch (PluginLoadException)
        {
            context?.Unload();
            throw;
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or ReflectionTypeLoadException or TypeLoadException or FileLoadException or MissingMethodException or TargetInvocationException or UnauthorizedAccessException)
        {
            context?.Unload();
            throw new PluginLoadException($"{display}: cannot load ({ex.GetType().Name}: {ex.Message})", ex);
        }
    }

    /// <summary>"plugins/echo" style name: the folder and its parent.</summary>
    public static string DisplayName(string folder)
    {
        string trimmed = folder.TrimEnd(Path.DirectorySeparatorChar);
        string? parent = Path.GetFileName(Path.GetDirectoryName(trimmed));
        return parent is { Length: > 0 } ? parent + "/" + Path.GetFileName(trimmed) : trimmed;
    }

    /// <summary>Why <paramref name="assembly"/> cannot run here when it was built against a newer SDK major version, else null.</summary>
    private static string? SdkMismatch(Assembly assembly, string display)
    {
        foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
        {
            if (reference.Name == "Gateway.Sdk" && reference.Version is { } version && version.Major > GatewaySdk.MajorVersion)
            {
                return $"{display}: built against Gateway.Sdk {version}, but this gateway has Gateway.Sdk {GatewaySdk.Version} (major {GatewaySdk.MajorVersion}) — update the gateway or rebuild the plugin against SDK {GatewaySdk.MajorVersion}.x";
            }
        }

        return null;
    }

    private static Result Create(PluginLoadContext context, Assembly assembly, string display)
    {
        if (SdkMismatch(assembly, display) is { } mismatch)
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
        return new Result(context, plugin, assembly.GetName().Name ?? display);
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
