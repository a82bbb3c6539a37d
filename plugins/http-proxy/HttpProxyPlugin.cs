using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy;

/// <summary>
/// The http-proxy plugin (DESIGN §5): an HTTP/1.1 forward proxy with CONNECT on every configured
/// endpoint (<c>listen:</c> host sockets and <c>virtual:</c> endpoints through the TUN).
/// </summary>
public sealed class HttpProxyPlugin : IGatewayPlugin
{
    private readonly List<IDisposable> _bindings = [];
    private HttpProxyHandler? _handler;

    /// <inheritdoc/>
    public string Id => "http-proxy";

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context)
    {
        List<(string Key, string Message)> errors = [];
        HttpProxyOptionsReader.Read(context.Configuration, errors);
        foreach ((string key, string message) in errors)
        {
            context.Error(key, message);
        }
    }

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        ILogger logger = context.LoggerFactory.CreateLogger("Gateway.Plugins.HttpProxy");
        if (context.ConfiguredEndpoints.Count == 0)
        {
            // Absent section (or no endpoints): nothing to serve.
            HttpProxyLog.Idle(logger);
            return Task.CompletedTask;
        }

        List<(string Key, string Message)> errors = [];
        HttpProxyOptions options = HttpProxyOptionsReader.Read(context.Configuration, errors);
        if (errors.Count > 0)
        {
            throw new PluginConfigException(errors[0].Key, errors[0].Message);
        }

        _handler = new HttpProxyHandler(options, context.ProtectSocket, new HttpProxyMetrics(context.Meter), logger);
        foreach (ServiceEndpoint endpoint in context.ConfiguredEndpoints)
        {
            _bindings.Add(context.BindStream(endpoint, _handler));
            HttpProxyLog.Serving(logger, endpoint.ToString());
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (IDisposable binding in _bindings)
        {
            binding.Dispose();
        }

        _bindings.Clear();
        _handler?.Dispose();
        _handler = null;
        return Task.CompletedTask;
    }
}
