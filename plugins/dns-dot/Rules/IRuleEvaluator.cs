namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// The resolver's view of the rule scripts: one call per query, returning the first terminal verdict
/// (or <see cref="Verdict.Continue"/>). Must not allocate or block; a rule that throws yields
/// <see cref="Verdict.ServFail"/> (counted and logged by the implementation).
/// </summary>
internal interface IRuleEvaluator
{
    /// <summary>Evaluates the current rule set for <paramref name="query"/>.</summary>
    Verdict Evaluate(DnsQuery query);
}
