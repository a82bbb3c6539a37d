namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Answer declarations: exact names answered locally. A query of type A gets the IPv4 addresses, AAAA the
/// IPv6 addresses; when the name has none of the asked family (or for other types) the verdict carries the
/// other family's addresses and the resolver answers NOERROR with no records (RFC 2308 §2.2 NODATA), as
/// <see cref="Verdict.Answer(string, int)"/> documents.
/// </summary>
internal sealed class AnswerRuleStep : RuleStep
{
    private readonly NameSuffixMap<Entry> _names;

    public AnswerRuleStep(string name, NameSuffixMap<Entry> names)
        : base(name)
    {
        _names = names;
    }

    public override Verdict Evaluate(DnsQuery query, ReadOnlySpan<char> name, RuleFailureReporter failures)
    {
        if (!_names.TryMatchExact(name, out Entry entry))
        {
            return Verdict.Continue;
        }

        return query.Type == DnsType.AAAA ? entry.ForAaaa : entry.ForA;
    }

    /// <summary>The prebuilt verdicts of one name.</summary>
    /// <param name="ForA">For A and other types: the IPv4 addresses, or the IPv6 ones when there are none.</param>
    /// <param name="ForAaaa">For AAAA: the IPv6 addresses, or the IPv4 ones when there are none.</param>
    internal readonly record struct Entry(Verdict ForA, Verdict ForAaaa);
}
