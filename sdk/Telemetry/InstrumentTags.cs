namespace Gateway.Sdk.Telemetry;

/// <summary>
/// Instrument-level tags (the <c>tags</c> argument of <c>Meter.CreateCounter</c>, <c>CreateHistogram</c>, …; see
/// <see cref="System.Diagnostics.Metrics.Instrument.Tags"/>) that the gateway's exporters read. They describe the
/// instrument, never a series: they do not become Prometheus labels or per-point attributes.
/// </summary>
/// <remarks>
/// A plugin owns its telemetry names: when another tool's dashboards expect a name (dns-dot keeps dotproxy's statsd
/// names), the plugin says so on its own instruments, and the host knows no plugin's metric names.
/// </remarks>
public static class InstrumentTags
{
    /// <summary>
    /// The statsd name of the instrument, used instead of its own name: statsd gets <c>&lt;prefix&gt;.&lt;this&gt;</c>
    /// rather than <c>&lt;prefix&gt;.&lt;instrument name&gt;</c>. Prometheus and OTLP keep the instrument name.
    /// </summary>
    public const string StatsdName = "gateway.statsd.name";

    /// <summary>The instrument tags that give an instrument the statsd name <paramref name="name"/>.</summary>
    /// <param name="name">The statsd name without prefix, e.g. "event.upstream.cx_open".</param>
    public static KeyValuePair<string, object?>[] Statsd(string name) => [new(StatsdName, name)];
}
