using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy;

/// <summary>The http-proxy plugin (DESIGN §5).</summary>
public sealed class HttpProxyPlugin : IGatewayPlugin
{
    /// <inheritdoc/>
    public string Id => "http-proxy";

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        context.LoggerFactory.CreateLogger("http-proxy").LogInformation("http-proxy started");
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
