using System.Diagnostics.Metrics;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>The rule engine's instruments on the plugin's meter (exported as Prometheus and statsd by the host).</summary>
internal sealed class RuleMetrics
{
    private static readonly KeyValuePair<string, object?> ResultOk = new("result", "ok");
    private static readonly KeyValuePair<string, object?> ResultFailed = new("result", "failed");

    private readonly Counter<long>? _hits;
    private readonly Counter<long>? _failures;
    private readonly Counter<long>? _reloads;

    public RuleMetrics(Meter? meter)
    {
        if (meter is null)
        {
            return;
        }

        _hits = meter.CreateCounter<long>("dns_dot.rules.hits", "{query}", "Queries decided by a rule (terminal verdict), tagged with the rule's name");
        _failures = meter.CreateCounter<long>("dns_dot.rules.failures", "{query}", "Rule lambdas that threw (the query got SERVFAIL), tagged with the rule's name");
        _reloads = meter.CreateCounter<long>("dns_dot.rules.reloads", "{reload}", "Rule script (re)loads, tagged result=ok|failed");
    }

    /// <summary>A metrics sink that records nothing (for <c>gateway check</c>).</summary>
    public static RuleMetrics None { get; } = new(null);

    public void Hit(RuleStep step) => _hits?.Add(1, step.MetricTag);

    public void Failure(RuleStep step) => _failures?.Add(1, step.MetricTag);

    public void Reload(bool ok) => _reloads?.Add(1, ok ? ResultOk : ResultFailed);
}
