using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;
using Gateway.Sdk;

namespace Gateway.Host.Plugins;

/// <summary>
/// The assemblies a plugin must take from the host so that plugin and host agree on types (DESIGN §4): Gateway.Sdk,
/// Microsoft.Extensions.Primitives and every Microsoft.Extensions.*.Abstractions the host ships. McMaster's loader
/// prefers the host's copy of these; what it does not do — and this type does — is refuse, with a message, a plugin
/// that needs a newer copy than the host has: the package would silently load the plugin's private copy instead, and
/// the plugin would then fail with a cast or missing-method error far from the cause.
/// </summary>
internal static class HostSharedAssemblies
{
    /// <summary>
    /// The shared assembly names on the host's trusted platform assembly list (its own dependency closure: what plugins
    /// get). Names only, from the paths: reading each file's version up front (<see cref="AssemblyName.GetAssemblyName"/>)
    /// loads System.Reflection.Metadata and System.Collections.Immutable into every gateway, ~2 MB of idle RSS, for a
    /// check that only a plugin referencing a newer copy needs. <see cref="HostVersion"/> reads a version on demand.
    /// </summary>
    private static HashSet<string> Names { get; } = FindHostNames();

    private static readonly ConcurrentDictionary<string, Version?> VersionCache = new(StringComparer.Ordinal);

    /// <summary>True for the names a plugin must not bring its own copy of.</summary>
    public static bool IsShared(string? name) =>
        name is not null &&
        (name == "Gateway.Sdk" ||
         name == "Microsoft.Extensions.Primitives" ||
         (name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) && name.EndsWith(".Abstractions", StringComparison.Ordinal)));

    /// <summary>
    /// Why <paramref name="assembly"/> cannot run against this host, or null: built against a newer Gateway.Sdk major
    /// version, or against a newer shared Microsoft.Extensions assembly than the host has.
    /// </summary>
    public static string? Mismatch(Assembly assembly, string display)
    {
        foreach (AssemblyName reference in assembly.GetReferencedAssemblies())
        {
            if (reference.Version is not { } wanted || !IsShared(reference.Name))
            {
                continue;
            }

            if (reference.Name == "Gateway.Sdk")
            {
                if (wanted.Major > GatewaySdk.MajorVersion)
                {
                    return $"{display}: built against Gateway.Sdk {wanted}, but this gateway has Gateway.Sdk {GatewaySdk.Version} (major {GatewaySdk.MajorVersion}) — update the gateway or rebuild the plugin against SDK {GatewaySdk.MajorVersion}.x";
                }
            }
            else if (HostVersion(reference.Name!) is { } have && wanted > have)
            {
                return $"{display}: built against {reference.Name} {wanted}, but this gateway has {have} (shared with plugins) — update the gateway or rebuild the plugin against {reference.Name} {have.Major}.x";
            }
        }

        return null;
    }

    /// <summary>
    /// The version of the host's copy of shared assembly <paramref name="name"/>, or null when the host has none. The
    /// host's copy is loaded into the default context to read it: the plugin that references it resolves to that same
    /// copy when it first uses it (its own context has none), so this loads nothing the plugin would not.
    /// </summary>
    public static Version? HostVersion(string name) =>
        !Names.Contains(name) ? null : VersionCache.GetOrAdd(name, static n =>
        {
            try
            {
                return AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName(n)).GetName().Version ?? new Version(0, 0);
            }
            catch (Exception ex) when (ex is IOException or BadImageFormatException or UnauthorizedAccessException)
            {
                // Listed but not a loadable assembly: nothing to share under that name.
                return null;
            }
        });

    private static HashSet<string> FindHostNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { "Gateway.Sdk" };
        string? tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string;
        foreach (string path in (tpa ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (IsShared(name))
            {
                names.Add(name);
            }
        }

        return names;
    }

    /// <summary>
    /// The shared assemblies of which <paramref name="folder"/> (a plugin's, searched with its subfolders) carries a
    /// copy of its own: the loader must be told to prefer the host's copy of exactly these.
    /// </summary>
    public static List<AssemblyName> CarriedBy(string folder)
    {
        var carried = new List<AssemblyName>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string path in Directory.EnumerateFiles(folder, "*.dll", SearchOption.AllDirectories))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (IsShared(name) && Names.Contains(name) && seen.Add(name))
            {
                carried.Add(new AssemblyName(name));
            }
        }

        return carried;
    }
}
