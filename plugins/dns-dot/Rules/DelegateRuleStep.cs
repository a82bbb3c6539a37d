namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>A <c>Rule(q => ...)</c> lambda from a script. A lambda that throws yields SERVFAIL (DESIGN §7).</summary>
internal sealed class DelegateRuleStep : RuleStep
{
    private readonly Func<DnsQuery, Verdict> _rule;

    public DelegateRuleStep(string name, Func<DnsQuery, Verdict> rule)
        : base(name)
    {
        _rule = rule;
    }

    public override Verdict Evaluate(DnsQuery query, ReadOnlySpan<char> name, RuleFailureReporter failures)
    {
        try
        {
            // A lambda that returns null has made no decision.
            return _rule(query) ?? Verdict.Continue;
        }
        catch (Exception exception)
        {
            failures.Report(this, query, exception);
            return Verdict.ServFail;
        }
    }
}
