using System.Reflection;
using Gateway.Sdk;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

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
    /// <summary>Types whose assemblies are always shared (their versions are what <see cref="Mismatch"/> checks against).</summary>
    private static Type[] SharedTypes { get; } = [typeof(IGatewayPlugin), typeof(IConfiguration), typeof(ILogger), typeof(IChangeToken)];

    /// <summary>Every shared assembly name the host has, with the version it has.</summary>
    public static IReadOnlyDictionary<string, Version> Versions { get; } = FindHostVersions();

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
            else if (Versions.TryGetValue(reference.Name!, out Version? have) && wanted > have)
            {
                return $"{display}: built against {reference.Name} {wanted}, but this gateway has {have} (shared with plugins) — update the gateway or rebuild the plugin against {reference.Name} {have.Major}.x";
            }
        }

        return null;
    }

    private static Dictionary<string, Version> FindHostVersions()
    {
        var versions = new Dictionary<string, Version>(StringComparer.Ordinal);

        // The host's own dependency closure is on the trusted platform assembly list; plugins get what is there.
        string? tpa = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string;
        foreach (string path in (tpa ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string name = Path.GetFileNameWithoutExtension(path);
            if (IsShared(name))
            {
                try
                {
                    versions[name] = AssemblyName.GetAssemblyName(path).Version ?? new Version(0, 0);
                }
                catch (Exception ex) when (ex is IOException or BadImageFormatException or UnauthorizedAccessException)
                {
                    // Not a readable assembly: nothing to share under that name.
                }
            }
        }

        foreach (Type type in SharedTypes)
        {
            AssemblyName name = type.Assembly.GetName();
            versions[name.Name!] = name.Version ?? new Version(0, 0);
        }

        return versions;
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
            if (IsShared(name) && Versions.ContainsKey(name) && seen.Add(name))
            {
                carried.Add(new AssemblyName(name));
            }
        }

        return carried;
    }
}
