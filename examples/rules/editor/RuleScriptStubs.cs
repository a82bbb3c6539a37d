// Editor-only: lets an IDE offer completion and signature help in rule scripts (.csx) opened through
// rules.editor.csproj. The gateway never compiles this file; it gives the same calls to the scripts itself.
// Kept in step with Gateway.Plugins.DnsDot.Rules.RuleScriptGlobals by a unit test.
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Rules.Editor;

/// <summary>The calls a rule script can make (see docs/rules.md).</summary>
public static class RuleScriptStubs
{
    /// <summary>The full path of the running script.</summary>
    public static string ScriptPath => throw Editor();

    /// <summary>The script's folder; relative paths are resolved against it.</summary>
    public static string ScriptDirectory => throw Editor();

    /// <summary>NXDOMAIN for these names and their subdomains (on label boundaries).</summary>
    public static void Block(params string[] names) => throw Editor();

    /// <summary>REFUSED for these names and their subdomains.</summary>
    public static void Refuse(params string[] names) => throw Editor();

    /// <summary>A local A (IPv4) or AAAA (IPv6) answer for exactly this name; call again to add addresses.</summary>
    public static void Answer(string name, string address, int ttl = 60) => throw Editor();

    /// <summary>Split DNS: this suffix and its subdomains go to the upstream group (dns-dot.groups).</summary>
    public static void Forward(string suffix, string group) => throw Editor();

    /// <summary>A rule in C#, run per query in declaration order; return Verdict.Continue for no decision.</summary>
    public static void Rule(Func<DnsQuery, Verdict> rule) => throw Editor();

    /// <summary>A named rule; the name tags its hit counter in metrics.</summary>
    public static void Rule(string name, Func<DnsQuery, Verdict> rule) => throw Editor();

    /// <summary>Blocks a configured list (dns-dot.lists, by name: "ads") or the names of a hosts file or plain list (relative to the script's folder).</summary>
    public static void BlockList(string nameOrPath) => throw Editor();

    /// <summary>Lets a configured list's names (or a file's) through: no later rule and no block list applies.</summary>
    public static void AllowList(string nameOrPath) => throw Editor();

    /// <summary>REFUSED for every name in a hosts file or plain list.</summary>
    public static void RefuseList(string path) => throw Editor();

    /// <summary>The names of a hosts file or plain list.</summary>
    public static IReadOnlyList<string> LoadNames(string path) => throw Editor();

    /// <summary>A set of names (with subdomains) to test in a lambda without allocating.</summary>
    public static NameSet Names(params string[] names) => throw Editor();

    /// <summary>A set of names read from a list file.</summary>
    public static NameSet NamesFromFile(string path) => throw Editor();

    /// <summary>Client networks ("10.0.0.0/8", "fd00::/8") to test in a lambda without allocating.</summary>
    public static ClientNetworks ClientIn(params string[] networks) => throw Editor();

    private static NotSupportedException Editor() => new("editor stub: the gateway runs rule scripts");
}
