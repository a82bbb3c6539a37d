namespace Gateway.Host.Observability;

/// <summary>One instrument's series at snapshot time.</summary>
internal sealed class MetricFamily
{
    public MetricFamily(string meterName, string name, string? unit, string? description, MetricKind kind, double[]? boundaries, MetricPoint[] points, string? statsdName = null)
    {
        StatsdName = statsdName;
        MeterName = meterName;
        Name = name;
        Unit = unit;
        Description = description;
        Kind = kind;
        Boundaries = boundaries;
        Points = points;
    }

    /// <summary>The meter ("Gateway.Host", "Gateway.Plugins.&lt;id&gt;").</summary>
    public string MeterName { get; }

    /// <summary>The instrument name as created ("dns.requests").</summary>
    public string Name { get; }

    /// <summary>The statsd name its owner gave the instrument (<c>InstrumentTags.StatsdName</c>), or null.</summary>
    public string? StatsdName { get; }

    /// <summary>The instrument unit (UCUM-style: "s", "ms", "By", "{packet}") or null.</summary>
    public string? Unit { get; }

    /// <summary>The instrument description or null.</summary>
    public string? Description { get; }

    /// <summary>How the values aggregate.</summary>
    public MetricKind Kind { get; }

    /// <summary>Histogram only: ascending upper bucket bounds (the +Inf bucket is implicit).</summary>
    public double[]? Boundaries { get; }

    /// <summary>One point per tag set.</summary>
    public MetricPoint[] Points { get; }
}
