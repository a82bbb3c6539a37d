using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Collects the declarations a script makes through <see cref="RuleScriptGlobals"/> while it runs, then builds
/// the immutable <see cref="RuleSet"/>. Consecutive declarations of one kind in one file share one matcher step
/// (one hash probe per label for all of them); a different kind or a lambda in between starts a new step, so
/// declaration order is kept.
/// </summary>
internal sealed class RuleSetBuilder
{
    private readonly List<PendingStep> _steps = [];
    private readonly Dictionary<string, (string Script, int Line, int Column)> _groups = new(StringComparer.Ordinal);
    private readonly List<string> _files = [];
    private readonly Dictionary<string, int> _nameUse = new(StringComparer.Ordinal);
    private string _fileName = "script";
    private string _scriptPath = "script";

    /// <summary>The configured <c>lists:</c> scripts can name (<c>BlockList("ads")</c>); null when there are none.</summary>
    public Lists.IListCatalog? Lists { get; init; }

    /// <summary>Starts collecting the declarations of <paramref name="scriptPath"/>.</summary>
    public void BeginFile(string scriptPath)
    {
        _fileName = Path.GetFileName(scriptPath);
        _scriptPath = scriptPath;
        _files.Add(scriptPath);
    }

    /// <summary>Records a file the rules were read from (a block list), so editing it reloads the rules.</summary>
    public void AddDependency(string path) => _files.Add(path);

    /// <summary>Names (and their subdomains) answered with <paramref name="verdict"/>.</summary>
    public void AddSuffixes(string kind, IEnumerable<string> names, Verdict verdict)
    {
        SuffixPending step = Current<SuffixPending>(kind) ?? Push(new SuffixPending(kind));
        foreach (string name in names)
        {
            // The first declaration of a name wins, as evaluation order would decide.
            step.Names.TryAdd(DnsNames.Normalize(name), verdict);
        }

        if (verdict.Kind == VerdictKind.Forward && verdict.Group is not null)
        {
            _groups.TryAdd(verdict.Group, CallerPosition());
        }
    }

    /// <summary>A local answer for exactly <paramref name="name"/>.</summary>
    public void AddAnswer(string name, NetAddress address, int ttl)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ttl);
        AnswerPending step = Current<AnswerPending>("answer") ?? Push(new AnswerPending());
        string normalized = DnsNames.Normalize(name);
        if (!step.Names.TryGetValue(normalized, out AnswerPending.Addresses? addresses))
        {
            addresses = new AnswerPending.Addresses();
            step.Names.Add(normalized, addresses);
        }

        List<NetAddress> family = address.IsV4 ? addresses.V4 : addresses.V6;
        if (!family.Contains(address))
        {
            family.Add(address);
        }

        addresses.Ttl = Math.Min(addresses.Ttl, ttl);
    }

    /// <summary>A rule backed by the configured list <paramref name="list"/> (block or allow).</summary>
    public void AddList(Lists.SubscribedList list, bool allow)
    {
        string kind = allow ? "allowlist" : "blocklist";
        var step = new ListPending(kind, list, Lists!, allow) { File = _fileName, Name = UniqueName(kind) };
        step.Reason = Reason(step.Name);
        _steps.Add(step);
    }

    /// <summary>A script lambda; <paramref name="name"/> null names it after the file and position.</summary>
    public void AddRule(string? name, Func<DnsQuery, Verdict> rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        if (name is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(name);
        }

        var step = new DelegatePending(name ?? UniqueName("rule"), rule);
        step.Reason = Reason(step.Name);
        _steps.Add(step);
    }

    /// <summary>Upstream groups named by Forward declarations, with the script that first names each.</summary>
    public IReadOnlyDictionary<string, (string Script, int Line, int Column)> GroupScripts => _groups;

    /// <summary>Builds the immutable rule set.</summary>
    public RuleSet Build(RuleMetrics metrics, RuleFailureReporter failures, ScriptLoadContext? context)
    {
        var steps = new RuleStep[_steps.Count];
        int names = 0;
        for (int i = 0; i < steps.Length; i++)
        {
            steps[i] = _steps[i].Build();
            steps[i].Reason = _steps[i].Reason;
            names += _steps[i].NameCount;
        }

        return new RuleSet(steps, _groups.Keys.ToArray(), _files.ToArray(), names, metrics, failures, context);
    }

    /// <summary>Where the running script made the current call (its PDB gives lines), else its first line.</summary>
    private (string Script, int Line, int Column) CallerPosition()
    {
        foreach (System.Diagnostics.StackFrame frame in new System.Diagnostics.StackTrace(fNeedFileInfo: true).GetFrames())
        {
            if (string.Equals(frame.GetFileName(), _scriptPath, StringComparison.Ordinal) && frame.GetFileLineNumber() > 0)
            {
                return (_scriptPath, frame.GetFileLineNumber(), Math.Max(1, frame.GetFileColumnNumber()));
            }
        }

        return (_scriptPath, 1, 1);
    }

    // "rule:block-ads.csx:3": the script and line of the declaration that started the step (the query log's reason).
    private string Reason(string stepName)
    {
        foreach (System.Diagnostics.StackFrame frame in new System.Diagnostics.StackTrace(fNeedFileInfo: true).GetFrames())
        {
            if (string.Equals(frame.GetFileName(), _scriptPath, StringComparison.Ordinal) && frame.GetFileLineNumber() > 0)
            {
                return $"rule:{_fileName}:{frame.GetFileLineNumber()}";
            }
        }

        return $"rule:{stepName}";
    }

    private T? Current<T>(string kind)
        where T : PendingStep =>
        _steps.Count > 0 && _steps[^1] is T step && step.Kind == kind && step.File == _fileName ? step : null;

    private T Push<T>(T step)
        where T : PendingStep
    {
        step.File = _fileName;
        step.Name = UniqueName(step.Kind);
        step.Reason = Reason(step.Name);
        _steps.Add(step);
        return step;
    }

    /// <summary>"block-ads.csx:block", then "block-ads.csx:block#2" for the file's next block step.</summary>
    private string UniqueName(string kind)
    {
        string name = $"{_fileName}:{kind}";
        int use = _nameUse.GetValueOrDefault(name) + 1;
        _nameUse[name] = use;
        return use == 1 ? name : $"{name}#{use}";
    }

    private abstract class PendingStep
    {
        public abstract string Kind { get; }

        public string File { get; set; } = "";

        public string Name { get; set; } = "";

        public virtual int NameCount => 0;

        public string Reason { get; set; } = "rule";

        public abstract RuleStep Build();
    }

    private sealed class SuffixPending(string kind) : PendingStep
    {
        public override string Kind { get; } = kind;

        public Dictionary<string, Verdict> Names { get; } = NameSuffixMap<Verdict>.CreateDictionary();

        public override int NameCount => Names.Count;

        public override RuleStep Build() => new SuffixRuleStep(Name, new NameSuffixMap<Verdict>(Names));
    }

    private sealed class AnswerPending : PendingStep
    {
        public override string Kind => "answer";

        public Dictionary<string, Addresses> Names { get; } = new(StringComparer.Ordinal);

        public override int NameCount => Names.Count;

        public override RuleStep Build()
        {
            Dictionary<string, AnswerRuleStep.Entry> entries = NameSuffixMap<AnswerRuleStep.Entry>.CreateDictionary(Names.Count);
            foreach ((string name, Addresses addresses) in Names)
            {
                Verdict? v4 = addresses.V4.Count > 0 ? Verdict.Answer(addresses.V4.ToArray(), addresses.Ttl) : null;
                Verdict? v6 = addresses.V6.Count > 0 ? Verdict.Answer(addresses.V6.ToArray(), addresses.Ttl) : null;
                entries[name] = new AnswerRuleStep.Entry(v4 ?? v6!, v6 ?? v4!);
            }

            return new AnswerRuleStep(Name, new NameSuffixMap<AnswerRuleStep.Entry>(entries));
        }

        public sealed class Addresses
        {
            public List<NetAddress> V4 { get; } = [];

            public List<NetAddress> V6 { get; } = [];

            public int Ttl { get; set; } = int.MaxValue;
        }
    }

    private sealed class ListPending(string kind, Lists.SubscribedList list, Lists.IListCatalog catalog, bool allow) : PendingStep
    {
        public override string Kind { get; } = kind;

        public override RuleStep Build() => new ListRuleStep(Name, list, catalog, allow);
    }

    private sealed class DelegatePending(string name, Func<DnsQuery, Verdict> rule) : PendingStep
    {
        public override string Kind => "rule";

        public override RuleStep Build() => new DelegateRuleStep(name, rule);
    }
}
