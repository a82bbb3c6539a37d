namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// One immutable generation of compiled rules: the steps in declaration order, and the collectible context
/// that holds the scripts' code. Swapped as a whole by <see cref="RuleEngine"/>; never changed after creation.
/// </summary>
internal sealed class RuleSet
{
    private readonly RuleStep[] _steps;
    private readonly RuleMetrics _metrics;
    private readonly RuleFailureReporter _failures;

    public RuleSet(RuleStep[] steps, IReadOnlyCollection<string> referencedGroups, IReadOnlyList<string> files, int nameCount, RuleMetrics metrics, RuleFailureReporter failures, ScriptLoadContext? context)
    {
        _steps = steps;
        _metrics = metrics;
        _failures = failures;
        ReferencedGroups = referencedGroups;
        Files = files;
        NameCount = nameCount;
        Context = context;
    }

    /// <summary>An empty rule set: every query continues to normal resolution.</summary>
    public static RuleSet Empty(RuleMetrics metrics, RuleFailureReporter failures) => new([], [], [], 0, metrics, failures, null);

    /// <summary>Upstream groups named by <c>Forward(...)</c> declarations.</summary>
    public IReadOnlyCollection<string> ReferencedGroups { get; }

    /// <summary>Every file this generation was built from (scripts and block lists), for change detection.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The number of names in prebuilt matchers.</summary>
    public int NameCount { get; }

    /// <summary>The steps in evaluation order.</summary>
    public IReadOnlyList<RuleStep> Steps => _steps;

    /// <summary>The collectible context of the scripts' code (null when no script was compiled).</summary>
    public ScriptLoadContext? Context { get; }

    /// <summary>Runs the steps in order and returns the first terminal verdict, or <see cref="Verdict.Continue"/>.</summary>
    public Verdict Evaluate(DnsQuery query)
    {
        RuleStep[] steps = _steps;
        if (steps.Length == 0)
        {
            return Verdict.Continue;
        }

        ReadOnlySpan<byte> name = query.NameBytes;
        for (int i = 0; i < steps.Length; i++)
        {
            RuleStep step = steps[i];
            Verdict verdict = step.Evaluate(query, name, _failures);
            if (verdict.Kind != VerdictKind.Continue)
            {
                query.DecidedBy = step;
                _metrics.Hit(step);
                return verdict;
            }
        }

        return Verdict.Continue;
    }
}
