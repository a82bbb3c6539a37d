using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Gateway.Plugins.DnsDot.Server.Https;

/// <summary>
/// Makes the ASP.NET Core shared framework (Kestrel, for the DoH listener) loadable from this plugin's load
/// context. The plugin references it as a FrameworkReference, so its deps.json names no files; the host
/// (<c>gateway.runtimeconfig.json</c>) may not list the framework at all. When neither the plugin's folder nor the
/// host can resolve an assembly, this looks in the Microsoft.AspNetCore.App folder installed next to the running
/// Microsoft.NETCore.App, preferring the same version. Only assemblies of that folder are ever loaded from it.
/// </summary>
internal static class AspNetCoreAssemblies
{
    private static int s_installed;

    /// <summary>The shared framework folder found, or null when the ASP.NET Core runtime is not installed.</summary>
    public static string? FrameworkDirectory { get; } = FindFrameworkDirectory();

    /// <summary>
    /// Hooks the plugin's load context (once; does nothing when the framework is not installed). Called when the
    /// plugin starts, before any type that touches Kestrel can be loaded.
    /// </summary>
    public static void Install()
    {
        if (FrameworkDirectory is null || Interlocked.Exchange(ref s_installed, 1) == 1)
        {
            return;
        }

        AssemblyLoadContext context = AssemblyLoadContext.GetLoadContext(typeof(AspNetCoreAssemblies).Assembly) ?? AssemblyLoadContext.Default;
        context.Resolving += Resolve;
    }

    /// <summary>
    /// <see cref="Install"/>, or <see cref="InvalidOperationException"/> with what to install when the ASP.NET Core
    /// runtime is missing. Call before the first method that uses Kestrel types is compiled.
    /// </summary>
    public static void EnsureResolvable()
    {
        if (FrameworkDirectory is null)
        {
            throw new InvalidOperationException("the DoH listener needs the ASP.NET Core runtime (Microsoft.AspNetCore.App), which is not installed next to this .NET runtime; install aspnetcore-runtime of the same version");
        }

        Install();
    }

    private static Assembly? Resolve(AssemblyLoadContext context, AssemblyName name)
    {
        if (FrameworkDirectory is null || name.Name is null)
        {
            return null;
        }

        string path = Path.Combine(FrameworkDirectory, name.Name + ".dll");
        return File.Exists(path) ? context.LoadFromAssemblyPath(path) : null;
    }

    private static string? FindFrameworkDirectory()
    {
        // .../shared/Microsoft.NETCore.App/<version>/ → .../shared/Microsoft.AspNetCore.App/<version>/
        string runtime = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
        string version = Path.GetFileName(runtime);
        string? shared = Path.GetDirectoryName(Path.GetDirectoryName(runtime));
        if (shared is null)
        {
            return null;
        }

        string root = Path.Combine(shared, "Microsoft.AspNetCore.App");
        if (Directory.Exists(Path.Combine(root, version)))
        {
            return Path.Combine(root, version);
        }

        // Another patch of the same major version (the runtime rolls forward the same way).
        if (!Directory.Exists(root) || !Version.TryParse(version.Split('-')[0], out Version? running))
        {
            return null;
        }

        string? best = null;
        Version? bestVersion = null;
        foreach (string candidate in Directory.GetDirectories(root))
        {
            if (Version.TryParse(Path.GetFileName(candidate).Split('-')[0], out Version? v) && v.Major == running.Major && (bestVersion is null || v > bestVersion))
            {
                best = candidate;
                bestVersion = v;
            }
        }

        return best;
    }
}
