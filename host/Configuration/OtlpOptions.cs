namespace Gateway.Host.Configuration;

/// <summary>OTLP metrics export (<c>host.otlp</c>), beside Prometheus and statsd.</summary>
internal sealed class OtlpOptions
{
    /// <summary>The default push interval (60 s, the OpenTelemetry SDK's default).</summary>
    public const int DefaultIntervalSeconds = 60;

    /// <summary>
    /// The collector's URL (<c>host.otlp.endpoint</c>): for grpc the base URL ("http://127.0.0.1:4317"), for
    /// http/protobuf the base or the full metrics URL ("http://127.0.0.1:4318"; "/v1/metrics" is appended when the
    /// path is empty). Absent: no OTLP export.
    /// </summary>
    public Uri? Endpoint { get; set; }

    /// <summary>"grpc" (default) or "http/protobuf" (<c>host.otlp.protocol</c>), as OTEL_EXPORTER_OTLP_PROTOCOL names them.</summary>
    public string Protocol { get; set; } = "grpc";

    /// <summary>Push interval in seconds (<c>host.otlp.intervalSeconds</c>), 1–3600. Defaults to 60 s.</summary>
    public int IntervalSeconds { get; set; } = DefaultIntervalSeconds;

    /// <summary>
    /// Extra request headers (<c>host.otlp.headers</c>, a map), e.g. an API key of a hosted collector. Empty by default.
    /// Security: these are secrets as much as a token; keep gateway.yaml mode 0640 or 0600.
    /// </summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}
