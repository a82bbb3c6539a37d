using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard;

/// <summary>The wireguard plugin (DESIGN §5).</summary>
public sealed class WireGuardPlugin : IGatewayPlugin
{
    /// <inheritdoc/>
    public string Id => "wireguard";

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        context.LoggerFactory.CreateLogger("wireguard").LogInformation("wireguard started");
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
