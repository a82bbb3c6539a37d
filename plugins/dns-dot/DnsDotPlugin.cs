using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot;

/// <summary>The dns-dot plugin (DESIGN §5).</summary>
public sealed class DnsDotPlugin : IGatewayPlugin
{
    /// <inheritdoc/>
    public string Id => "dns-dot";

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        context.LoggerFactory.CreateLogger("dns-dot").LogInformation("dns-dot started");
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
