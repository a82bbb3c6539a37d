using Gateway.Host.Admin;
using Gateway.Host.Api;
using Gateway.Host.Observability;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Runtime;

/// <summary>
/// Runs the <see cref="GatewayRuntime"/> inside Microsoft.Extensions.Hosting (console lifetime: SIGINT/SIGTERM stop it
/// cleanly), with the metrics collector, the admin listener (<c>host.admin.listen</c>), statsd export
/// (<c>host.statsd.address</c>) and OTLP export (<c>host.otlp.endpoint</c>) around it.
/// </summary>
internal sealed class GatewayHostedService : IHostedService
{
    private readonly GatewayRuntime _runtime;
    private readonly ILoggerFactory _loggerFactory;
    private MetricsCollector? _metrics;
    private AdminServer? _admin;
    private StatsdExporter? _statsd;
    private OtlpExporter? _otlp;

    public GatewayHostedService(GatewayRuntime runtime, ILoggerFactory loggerFactory)
    {
        _runtime = runtime;
        _loggerFactory = loggerFactory;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Observability first: /healthz answers and /readyz says "not ready" while plugins start, and every
        // instrument (host and plugins, all "Gateway*" meters) is collected from its creation.
        ILogger logger = _loggerFactory.CreateLogger("Gateway.Host.Observability");
        _metrics = new MetricsCollector(logger);
        if (_runtime.Config.Host.Admin.Listen is not null)
        {
            var api = new AdminApi(_runtime, _loggerFactory.CreateLogger("Gateway.Host.Api"));
            _admin = new AdminServer(_runtime.Config.Host.Admin, _metrics, () => _runtime.IsReady, _loggerFactory, api);
            await _admin.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_runtime.Config.Host.Statsd.Address is { } address)
        {
            _statsd = new StatsdExporter(address, _metrics, logger);
            await _statsd.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_runtime.Config.Host.Otlp.Endpoint is not null)
        {
            _otlp = new OtlpExporter(_runtime.Config.Host.Otlp, logger);
            _otlp.Start();
        }

        await _runtime.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _runtime.StopAsync().ConfigureAwait(false);
        if (_statsd is not null)
        {
            await _statsd.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        _otlp?.Dispose();
        if (_admin is not null)
        {
            await _admin.StopAsync(cancellationToken).ConfigureAwait(false);
        }

        _metrics?.Dispose();
    }
}
