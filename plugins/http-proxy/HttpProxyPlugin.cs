using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Plugins.HttpProxy.Socks;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Gateway.Plugins.HttpProxy;

/// <summary>
/// The http-proxy plugin (DESIGN §5): an HTTP/1.1 forward proxy with CONNECT on every configured
/// endpoint (<c>listen:</c> host sockets and <c>virtual:</c> endpoints through the TUN).
/// </summary>
public sealed class HttpProxyPlugin : IGatewayPlugin
{
    /// <summary>
    /// The virtual endpoint served when the TUN is enabled and the section has no <c>virtual:</c> key
    /// (DESIGN §5: the proxy is the example TCP service on the second virtual IP).
    /// </summary>
    internal static readonly NetEndpoint DefaultVirtualEndpoint = NetEndpoint.Parse("10.30.30.31:8080");

    private readonly List<IDisposable> _bindings = [];
    private HttpProxyHandler? _handler;
    private IDisposable? _reloadRegistration;

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
        var endpoints = new List<ServiceEndpoint>(context.ConfiguredEndpoints);
        Microsoft.Extensions.Configuration.IConfigurationSection virtualKey = context.Configuration.GetSection("virtual");
        if (context.Tun is not null && context.Configuration.GetChildren().Any() && virtualKey.Value is null && !virtualKey.GetChildren().Any())
        {
            endpoints.Add(new ServiceEndpoint(EndpointKind.Virtual, DefaultVirtualEndpoint));
        }

        List<(string Key, string Message)> errors = [];
        HttpProxyOptions options = HttpProxyOptionsReader.Read(context.Configuration, errors);
        if (errors.Count > 0)
        {
            throw new PluginConfigException(errors[0].Key, errors[0].Message);
        }

        if (endpoints.Count == 0 && options.SocksListen.Count == 0)
        {
            // Absent section (or no endpoints): nothing to serve.
            HttpProxyLog.Idle(logger);
            return Task.CompletedTask;
        }

        _handler = new HttpProxyHandler(options, context.ProtectSocket, () => context.NameResolver, new HttpProxyMetrics(context.Meter), logger);
        foreach (ServiceEndpoint endpoint in endpoints)
        {
            _bindings.Add(context.BindStream(endpoint, _handler));
            HttpProxyLog.Serving(logger, endpoint.ToString());
        }

        var socks = new SocksOnlyHandler(_handler);
        foreach (NetEndpoint endpoint in options.SocksListen)
        {
            _bindings.Add(context.BindStream(new ServiceEndpoint(EndpointKind.HostSocket, endpoint), socks));
            HttpProxyLog.Serving(logger, $"{endpoint} (SOCKS only)");
        }

        // listen:/virtual: changes restart the plugin (the host compares those keys); the rest applies here, live.
        HttpProxyHandler handler = _handler;
        IReadOnlyList<NetEndpoint> socksBound = options.SocksListen;
        Microsoft.Extensions.Configuration.IConfiguration section = context.Configuration;
        _reloadRegistration = ChangeToken.OnChange(section.GetReloadToken, () => Reload(section, handler, socksBound, logger));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _reloadRegistration?.Dispose();
        _reloadRegistration = null;
        foreach (IDisposable binding in _bindings)
        {
            binding.Dispose();
        }

        _bindings.Clear();
        _handler?.Dispose();
        _handler = null;
        return Task.CompletedTask;
    }

    /// <summary>Reads the changed section and makes it the rules of new connections (the host validated it already).</summary>
    private static void Reload(Microsoft.Extensions.Configuration.IConfiguration section, HttpProxyHandler handler, IReadOnlyList<NetEndpoint> socksBound, ILogger logger)
    {
        List<(string Key, string Message)> errors = [];
        HttpProxyOptions options = HttpProxyOptionsReader.Read(section, errors);
        if (errors.Count > 0)
        {
            HttpProxyLog.ReloadRefused(logger, "http-proxy." + errors[0].Key, errors[0].Message);
            return;
        }

        List<string> restartOnly = [.. handler.Reload(options)];
        if (!options.SocksListen.SequenceEqual(socksBound))
        {
            restartOnly.Add("socksListen");
        }

        HttpProxyLog.Reloaded(logger);
        if (restartOnly.Count > 0)
        {
            HttpProxyLog.ReloadNeedsRestart(logger, string.Join(", ", restartOnly));
        }
    }
}
