using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// What a rule script (.csx) can call (DESIGN §7). The script runs once per (re)load; these methods
/// declare rules, which are evaluated per query in declaration order until one gives a verdict other than
/// <see cref="Verdict.Continue"/>. Names are matched case-insensitively; a name covers its subdomains on
/// label boundaries ("ads.example.test" covers "x.ads.example.test", not "xads.example.test").
/// </summary>
/// <remarks>
/// Scripts may use <c>System</c>, <c>System.Linq</c>, <c>System.Net</c>, <c>System.Collections.Generic</c> and
/// this namespace without <c>using</c>. <c>#r</c> and <c>#load</c> are refused: scripts are configuration.
/// </remarks>
public sealed class RuleScriptGlobals
{
    private readonly RuleSetBuilder _builder;

    internal RuleScriptGlobals(RuleSetBuilder builder, string scriptPath)
    {
        _builder = builder;
        ScriptPath = scriptPath;
        ScriptDirectory = Path.GetDirectoryName(scriptPath) ?? ".";
    }

    /// <summary>The full path of the running script.</summary>
    public string ScriptPath { get; }

    /// <summary>The script's folder; relative paths given to this API are resolved against it.</summary>
    public string ScriptDirectory { get; }

    /// <summary>Answers NXDOMAIN for <paramref name="names"/> and their subdomains.</summary>
    /// <example><code>Block("ads.example.test", "tracker.test");</code></example>
    public void Block(params string[] names) => _builder.AddSuffixes("block", names, Verdict.Blocked);

    /// <summary>Answers REFUSED for <paramref name="names"/> and their subdomains.</summary>
    public void Refuse(params string[] names) => _builder.AddSuffixes("refuse", names, Verdict.Refused);

    /// <summary>
    /// Answers <paramref name="name"/> (exactly, not its subdomains) locally: an A record for an IPv4
    /// <paramref name="address"/>, AAAA for IPv6. Call it again for the same name to add addresses; a query for
    /// a type the name has no address of gets an empty NOERROR answer.
    /// </summary>
    /// <param name="name">The name, for example "intranet.corp.test".</param>
    /// <param name="address">An IPv4 or IPv6 address.</param>
    /// <param name="ttl">The TTL of the answer in seconds. Defaults to 60.</param>
    public void Answer(string name, string address, int ttl = 60)
    {
        if (!NetAddress.TryParse(address, out NetAddress parsed))
        {
            throw new ArgumentException($"Answer(\"{name}\", \"{address}\"): '{address}' is not an IPv4 or IPv6 address", nameof(address));
        }

        _builder.AddAnswer(name, parsed, ttl);
    }

    /// <summary>
    /// Split DNS: resolves <paramref name="suffix"/> and its subdomains through the upstream group
    /// <paramref name="group"/> (a key under <c>dns-dot.groups</c> in gateway.yaml). When several Forward
    /// suffixes match a name, the most specific one wins.
    /// </summary>
    /// <example><code>Forward("corp.test", group: "corp");</code></example>
    public void Forward(string suffix, string group) => _builder.AddSuffixes("forward", [suffix], Verdict.Forward(group));

    /// <summary>
    /// A rule in C#: called for every query that reaches it; return <see cref="Verdict.Continue"/> to let the
    /// next rule decide. Runs on the query path: keep it fast, create verdicts, <see cref="NameSet"/>s and
    /// <see cref="ClientNetworks"/> outside the lambda. A lambda that throws answers SERVFAIL.
    /// </summary>
    /// <example><code>Rule(q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);</code></example>
    public void Rule(Func<DnsQuery, Verdict> rule) => _builder.AddRule(null, rule);

    /// <summary>A named rule (see <see cref="Rule(Func{DnsQuery, Verdict})"/>); the name tags its hit counter in metrics.</summary>
    public void Rule(string name, Func<DnsQuery, Verdict> rule) => _builder.AddRule(name, rule);

    /// <summary>
    /// Blocks the names of a list. <paramref name="nameOrPath"/> is either the name of a <c>dns-dot.lists</c>
    /// entry ("ads": the subscription as it is now and after each refresh, with its own format's rules) or a file
    /// relative to the script's folder: hosts format ("0.0.0.0 ads.example.test") or one name per line, names
    /// covering their subdomains, '#' comments; read at load time, and editing the file reloads the rules.
    /// Blocked names are answered as <c>blockingMode</c> says (NXDOMAIN by default).
    /// </summary>
    /// <param name="nameOrPath">A configured list's name, or a file relative to the script's folder.</param>
    public void BlockList(string nameOrPath)
    {
        if (_builder.Lists?.Find(nameOrPath) is { } list)
        {
            _builder.AddList(list, allow: false);
            return;
        }

        Block([.. LoadNames(nameOrPath)]);
    }

    /// <summary>
    /// Lets the names of a list through: they resolve normally, no later rule runs and no configured block list
    /// applies (allow beats block). <paramref name="nameOrPath"/> names a <c>dns-dot.lists</c> entry, or a file as
    /// for <see cref="BlockList"/> (the names and their subdomains).
    /// </summary>
    /// <param name="nameOrPath">A configured list's name, or a file relative to the script's folder.</param>
    public void AllowList(string nameOrPath)
    {
        if (_builder.Lists?.Find(nameOrPath) is { } list)
        {
            _builder.AddList(list, allow: true);
            return;
        }

        _builder.AddSuffixes("allow", LoadNames(nameOrPath), Verdict.Allow);
    }

    /// <summary>Answers REFUSED for every name in a list file (see <see cref="BlockList"/> for the format).</summary>
    public void RefuseList(string path) => Refuse([.. LoadNames(path)]);

    /// <summary>Reads the names of a list file (see <see cref="BlockList"/> for the format), for use with the other calls.</summary>
    public IReadOnlyList<string> LoadNames(string path)
    {
        string full = ResolvePath(path);
        _builder.AddDependency(full);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"list file '{full}' not found (relative paths start at the script's folder {ScriptDirectory})", full);
        }

        return BlockListReader.Read(full);
    }

    /// <summary>A set of names (with subdomains) to test in a lambda: <c>var kids = Names("games.test"); Rule(q =&gt; kids.Contains(q) ? ...)</c>.</summary>
    public NameSet Names(params string[] names) => new(names);

    /// <summary>A set of names read from a list file (see <see cref="BlockList"/>), to test in a lambda.</summary>
    public NameSet NamesFromFile(string path) => new(LoadNames(path));

    /// <summary>Client networks to test in a lambda: <c>var lan = ClientIn("10.0.0.0/8", "fd00::/8"); Rule(q =&gt; lan.Contains(q) ? ...)</c>.</summary>
    public ClientNetworks ClientIn(params string[] networks) => new(networks);

    private string ResolvePath(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return Path.GetFullPath(path, ScriptDirectory);
    }
}
