using Microsoft.Extensions.Hosting;

namespace Gateway.Host.Runtime;

/// <summary>Runs the <see cref="GatewayRuntime"/> inside Microsoft.Extensions.Hosting (console lifetime: SIGINT/SIGTERM stop it cleanly).</summary>
internal sealed class GatewayHostedService : IHostedService
{
    private readonly GatewayRuntime _runtime;

    public GatewayHostedService(GatewayRuntime runtime)
    {
        _runtime = runtime;
    }

    public Task StartAsync(CancellationToken cancellationToken) => _runtime.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => _runtime.StopAsync();
}
