namespace Gateway.Host.Observability;

/// <summary>How a metric family aggregates, as the exporters need to know it.</summary>
internal enum MetricKind
{
    /// <summary>A monotonic sum (Counter, ObservableCounter): Prometheus counter, statsd delta <c>|c</c>.</summary>
    Counter,

    /// <summary>A sum that can go down (UpDownCounter, ObservableUpDownCounter): exported as a gauge.</summary>
    UpDownCounter,

    /// <summary>The last value (Gauge, ObservableGauge).</summary>
    Gauge,

    /// <summary>Explicit-bucket histogram (Histogram).</summary>
    Histogram,
}
