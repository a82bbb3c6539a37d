namespace Gateway.Host.Observability;

/// <summary>Every exported instrument's values at one moment, as <see cref="MetricsCollector.Snapshot"/> took them.</summary>
internal sealed class MetricsSnapshot
{
    public MetricsSnapshot(MetricFamily[] families) => Families = families;

    /// <summary>Families ordered by meter name, then instrument name (ordinal).</summary>
    public MetricFamily[] Families { get; }
}
