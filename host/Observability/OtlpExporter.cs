using System.Reflection;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Gateway.Host.Observability;

/// <summary>
/// OTLP metrics export (<c>host.otlp</c>): the OpenTelemetry SDK's own MeterProvider over the same meters as
/// /metrics and statsd (the host's "Gateway.Host" and every plugin's "Gateway.Plugins.&lt;id&gt;", also plugins
/// loaded later), pushed every interval over gRPC or HTTP/protobuf with cumulative temporality (what Prometheus-
/// backed collectors expect). Created only when configured, so an idle gateway without OTLP pays nothing for it.
/// </summary>
internal sealed class OtlpExporter : IDisposable
{
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    private readonly OtlpOptions _options;
    private readonly ILogger _logger;
    private MeterProvider? _provider;

    public OtlpExporter(OtlpOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>The URL metrics are sent to (for http/protobuf with "/v1/metrics" appended to a bare base URL).</summary>
    public Uri Target => TargetOf(_options);

    /// <summary>Starts the periodic export. Never throws for an unreachable collector: exports fail and retry quietly (the SDK's self-diagnostics).</summary>
    public void Start()
    {
        Uri target = Target;
        string version = typeof(OtlpExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        _provider = OpenTelemetry.Sdk.CreateMeterProviderBuilder()
            .ConfigureResource(resource => resource.AddService("gateway", serviceVersion: version))
            .AddMeter(MetricsCollector.MeterPrefix + ".*")
            .AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = target;
                exporter.Protocol = _options.Protocol == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                if (_options.Headers.Count > 0)
                {
                    exporter.Headers = string.Join(",", _options.Headers.Select(h => h.Key + "=" + h.Value));
                }

                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = _options.IntervalSeconds * 1000;
                reader.TemporalityPreference = MetricReaderTemporalityPreference.Cumulative;
            })
            .Build();
        ObservabilityLog.OtlpStarted(_logger, target.ToString(), _options.Protocol, _options.IntervalSeconds);
    }

    /// <summary>Pushes what was measured since the last export, then stops.</summary>
    public void Dispose()
    {
        MeterProvider? provider = Interlocked.Exchange(ref _provider, null);
        if (provider is null)
        {
            return;
        }

        provider.ForceFlush((int)FlushTimeout.TotalMilliseconds);
        provider.Dispose();
        ObservabilityLog.OtlpStopped(_logger, Target.ToString());
    }

    /// <summary>
    /// The SDK uses a configured endpoint as given; for http/protobuf the signal path belongs in it (as the
    /// OTEL_EXPORTER_OTLP_ENDPOINT convention appends it), so a base URL gets "/v1/metrics".
    /// </summary>
    private static Uri TargetOf(OtlpOptions options)
    {
        Uri endpoint = options.Endpoint ?? throw new InvalidOperationException("host.otlp.endpoint is not set");
        return options.Protocol == "http/protobuf" && endpoint.AbsolutePath is "" or "/" ? new Uri(endpoint, "/v1/metrics") : endpoint;
    }
}
