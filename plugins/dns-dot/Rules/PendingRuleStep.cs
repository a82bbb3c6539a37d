namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// The only step of the rule set that serves while the scripts compile in the background at start
/// (<see cref="RulesStartupMode"/>): <see cref="Verdict.Continue"/> for <c>fast</c> (as if the scripts had no rules),
/// <see cref="Verdict.Refused"/> for <c>refuse</c>. It counts the queries it saw, for the "scripts active" log line.
/// </summary>
internal sealed class PendingRuleStep : RuleStep
{
    private readonly Verdict _verdict;
    private long _queries;

    public PendingRuleStep(RulesStartupMode mode)
        : base("rules-compiling")
    {
        Mode = mode;
        _verdict = mode == RulesStartupMode.Refuse ? Verdict.Refused : Verdict.Continue;

        // The query log's reason for a REFUSED answered in the window.
        Reason = "rules:compiling";
    }

    /// <summary>The start-up mode this step stands in for.</summary>
    public RulesStartupMode Mode { get; }

    /// <summary>Queries answered while this step stood in for the scripts.</summary>
    public long Queries => Interlocked.Read(ref _queries);

    public override Verdict Evaluate(DnsQuery query, ReadOnlySpan<byte> name, RuleFailureReporter failures)
    {
        Interlocked.Increment(ref _queries);
        return _verdict;
    }
}
