namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Block, Refuse and Forward declarations: names (and their subdomains) mapped to a verdict. Consecutive
/// declarations of one kind share one step; for Forward the most specific suffix wins.
/// </summary>
internal sealed class SuffixRuleStep : RuleStep
{
    private readonly NameSuffixMap<Verdict> _names;

    public SuffixRuleStep(string name, NameSuffixMap<Verdict> names)
        : base(name)
    {
        _names = names;
    }

    /// <summary>The number of names.</summary>
    public int Count => _names.Count;

    public override Verdict Evaluate(DnsQuery query, ReadOnlySpan<char> name, RuleFailureReporter failures) =>
        _names.TryMatch(name, out Verdict verdict) ? verdict : Verdict.Continue;
}
