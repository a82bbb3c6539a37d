using System.Reflection;
using System.Runtime.Loader;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// The collectible context one generation of compiled rule scripts lives in, so a reload can unload the old
/// code (Roslyn's own script loader never unloads). The scripts' references to this plugin and the SDK resolve
/// to the instances already loaded (the plugin's own collectible context, which takes the SDK from the host),
/// so <see cref="DnsQuery"/> and <see cref="Verdict"/> are the same types on both sides.
/// </summary>
internal sealed class ScriptLoadContext : AssemblyLoadContext
{
    private static long s_generation;

    private readonly Assembly _plugin;
    private readonly AssemblyLoadContext _parent;

    public ScriptLoadContext()
        : base($"dns-dot rules #{Interlocked.Increment(ref s_generation)}", isCollectible: true)
    {
        Generation = Interlocked.Read(ref s_generation);
        _plugin = typeof(DnsQuery).Assembly;
        _parent = GetLoadContext(_plugin) ?? Default;
    }

    /// <summary>A number that grows with every context created (for logs).</summary>
    public long Generation { get; }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (AssemblyName.ReferenceMatchesDefinition(assemblyName, _plugin.GetName()))
        {
            return _plugin;
        }

        try
        {
            // The plugin's context knows where everything else comes from (the SDK and framework from the host).
            return _parent.LoadFromAssemblyName(assemblyName);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
