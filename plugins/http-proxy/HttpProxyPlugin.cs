using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Api;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Logging;
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
    private readonly object _reloadGate = new();
    private HttpProxyHandler? _handler;
    private IPluginContext? _context;
    private ILogger? _logger;
    private HttpProxyOptions? _options;

    // The SOCKS-only endpoints bound at start (a reload cannot rebind them).
    private IReadOnlyList<NetEndpoint> _socksBound = [];
    private IDisposable? _reloadRegistration;
    private HttpProxyStatsApi? _stats;

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
        ILogger logger = context.LoggerFactory.CreateLogger("http-proxy");
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
            MapStats(context, cacheEnabled: false);
            return Task.CompletedTask;
        }

        MapStats(context, options.Cache.Enabled);
        _handler = new HttpProxyHandler(options, context.ProtectSocket, () => context.NameResolver, new HttpProxyMetrics(context.Meter), logger);
        try
        {
            _handler.Authenticator = CreateAuthenticator(options, context.ConfigDirectory, logger);
        }
        catch (InvalidDataException e)
        {
            _handler.Dispose();
            _handler = null;
            throw new PluginConfigException("auth:usersFile", e.Message);
        }

        _handler.AccessLog = CreateAccessLog(options, context.ConfigDirectory, logger);
        _context = context;
        _logger = logger;
        _options = options;
        _socksBound = options.SocksListen;
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
        _reloadRegistration = ChangeToken.OnChange(context.Configuration.GetReloadToken, Reload);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A changed section applies to new connections (issue #14): ACLs, ports, destination policy, timeouts, cache
    /// settings, auth and the access log. Endpoints (<c>listen</c>, <c>virtual</c>, <c>socksListen</c>) are bound at
    /// start only. A section with errors is not applied; the previous rules stay.
    /// </summary>
    private void Reload()
    {
        lock (_reloadGate)
        {
            if (_handler is not { } handler || _context is not { } context || _logger is not { } logger || _options is not { } previous)
            {
                return;
            }

            List<(string Key, string Message)> errors = [];
            HttpProxyOptions options = HttpProxyOptionsReader.Read(context.Configuration, errors);
            if (errors.Count > 0)
            {
                HttpProxyLog.ReloadRefused(logger, "http-proxy." + errors[0].Key, errors[0].Message);
                return;
            }

            ProxyAuthenticator? auth;
            try
            {
                auth = CreateAuthenticator(options, context.ConfigDirectory, logger);
            }
            catch (InvalidDataException e)
            {
                HttpProxyLog.ReloadRefused(logger, "http-proxy.auth.usersFile", e.Message);
                return;
            }

            List<string> restartOnly = [.. handler.Reload(options)];
            if (!options.SocksListen.SequenceEqual(_socksBound))
            {
                restartOnly.Add("socksListen");
            }

            ProxyAuthenticator? oldAuth = handler.Authenticator;
            handler.Authenticator = auth;
            oldAuth?.Dispose();
            if (!SameAccessLog(previous.AccessLog, options.AccessLog))
            {
                AccessLog? oldLog = handler.AccessLog;
                handler.AccessLog = CreateAccessLog(options, context.ConfigDirectory, logger);
                if (oldLog is not null)
                {
                    // Connections admitted before keep writing to it until they end; lines after its close are dropped.
                    _ = oldLog.DisposeAsync().AsTask();
                }
            }

            _options = options;
            HttpProxyLog.Reloaded(logger);
            if (restartOnly.Count > 0)
            {
                HttpProxyLog.ReloadNeedsRestart(logger, string.Join(", ", restartOnly));
            }
        }
    }

    private static bool SameAccessLog(AccessLogOptions a, AccessLogOptions b) =>
        a.Path == b.Path && a.Format == b.Format && a.MaxSizeBytes == b.MaxSizeBytes && a.Keep == b.Keep;

    private static ProxyAuthenticator? CreateAuthenticator(HttpProxyOptions options, string configDirectory, ILogger logger) =>
        options.Auth.Enabled ? ProxyAuthenticator.Create(options.Auth, configDirectory, logger) : null;

    private static AccessLog? CreateAccessLog(HttpProxyOptions options, string configDirectory, ILogger logger) =>
        options.AccessLog.Path is { } path ? new AccessLog(options.AccessLog, Path.GetFullPath(path, configDirectory), logger) : null;

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _reloadRegistration?.Dispose();
        _reloadRegistration = null;
        foreach (IDisposable binding in _bindings)
        {
            binding.Dispose();
        }

        _bindings.Clear();
        if (_handler is { } handler)
        {
            handler.Authenticator?.Dispose();
            if (handler.AccessLog is { } log)
            {
                await log.DisposeAsync().ConfigureAwait(false);
            }

            handler.Dispose();
        }

        _handler = null;
        _stats?.Dispose();
        _stats = null;
    }

    /// <summary><c>GET stats</c> on the admin API, read off this plugin's meter (also when idle: all zero then).</summary>
    private void MapStats(IPluginContext context, bool cacheEnabled)
    {
        _stats = new HttpProxyStatsApi(context.Meter, cacheEnabled);
        _bindings.Add(context.MapApi("GET", "stats", _stats.Answer));
    }
}
