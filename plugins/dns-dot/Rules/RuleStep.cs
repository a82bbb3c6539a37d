namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>One entry of a compiled rule set: a prebuilt matcher or a script delegate.</summary>
internal abstract class RuleStep
{
    protected RuleStep(string name)
    {
        Name = name;
        MetricTag = new KeyValuePair<string, object?>("rule", name);
    }

    /// <summary>The rule's name in metrics and logs ("block-ads.csx:block", or the script's own name).</summary>
    public string Name { get; }

    /// <summary>The metric tag for this rule, created once.</summary>
    public KeyValuePair<string, object?> MetricTag { get; }

    /// <summary>
    /// Decides for <paramref name="query"/>; <paramref name="name"/> is its name as UTF-16 (a name that never
    /// matches when the query name is not ASCII). Returns <see cref="Verdict.Continue"/> for no decision.
    /// </summary>
    public abstract Verdict Evaluate(DnsQuery query, ReadOnlySpan<char> name, RuleFailureReporter failures);
}
