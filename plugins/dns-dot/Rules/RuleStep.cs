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

    /// <summary>
    /// What the query log gives as the reason when this rule decides: "rule:&lt;script&gt;:&lt;line&gt;" of the
    /// declaration that started it, or "rule:&lt;name&gt;" when the position is not known.
    /// </summary>
    public string Reason { get; set; } = "rule";

    /// <summary>The metric tag for this rule, created once.</summary>
    public KeyValuePair<string, object?> MetricTag { get; }

    /// <summary>
    /// Decides for <paramref name="query"/>; <paramref name="name"/> is its <see cref="DnsQuery.NameBytes"/>.
    /// Returns <see cref="Verdict.Continue"/> for no decision.
    /// </summary>
    public abstract Verdict Evaluate(DnsQuery query, ReadOnlySpan<byte> name, RuleFailureReporter failures);
}
