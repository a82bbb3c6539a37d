using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Gateway.Host.Api;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Host.Sockets;
using Gateway.Sdk.Api;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Plugins;

/// <summary>
/// What one started plugin is given (<see cref="IPluginContext"/>). Every registration is tracked and undone by
/// <see cref="DisposeRegistrations"/> when the plugin stops or is unloaded, whether or not the plugin disposed it.
/// </summary>
internal sealed class PluginContext : IPluginContext
{
    private readonly IVirtualNetwork _virtualNetwork;
    private readonly HostSockets _sockets;
    private readonly PluginHandlerGuard _guard;
    private readonly PluginApiRoutes? _apiRoutes;
    private readonly GatewayNameResolver? _nameResolver;
    private readonly LimitsOptions _limits;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Registration> _registrations = [];
    private readonly List<EndpointBinding> _bindings = [];
    private readonly object _lock = new();

    public PluginContext(
        string pluginId,
        PluginSectionOptions section,
        PluginConfigurationSection configuration,
        string configDirectory,
        string pluginDirectory,
        ILoggerFactory loggerFactory,
        IVirtualNetwork virtualNetwork,
        HostSockets sockets,
        PluginHandlerGuard guard,
        PluginApiRoutes? apiRoutes = null,
        GatewayNameResolver? nameResolver = null)
    {
        PluginId = pluginId;
        PluginConfiguration = configuration;
        ConfigDirectory = configDirectory;
        PluginDirectory = pluginDirectory;
        LoggerFactory = new PluginLoggerFactory(loggerFactory, pluginId, configuration);
        Meter = new Meter("Gateway.Plugins." + pluginId);
        ConfiguredEndpoints = section.Endpoints.ToArray();
        _limits = section.Limits;
        _virtualNetwork = virtualNetwork;
        _sockets = sockets;
        _guard = guard;
        _apiRoutes = apiRoutes;
        _nameResolver = nameResolver;
    }

    public string PluginId { get; }

    public IConfiguration Configuration => PluginConfiguration;

    /// <summary>The section wrapper, so the host can fire its reload token.</summary>
    public PluginConfigurationSection PluginConfiguration { get; }

    public string ConfigDirectory { get; }

    public string PluginDirectory { get; }

    public ILoggerFactory LoggerFactory { get; }

    public Meter Meter { get; }

    public IReadOnlyList<ServiceEndpoint> ConfiguredEndpoints { get; }

    public ITunInfo? Tun => _virtualNetwork.Tun;

    /// <summary>Set by the host when this start replaces a running (now draining) version of the plugin.</summary>
    public bool IsReplacement { get; init; }

    public CancellationToken Stopping => _stopping.Token;

    public IPacketInjector Inbound => _virtualNetwork.Inbound;

    /// <summary>What this plugin serves now (for the startup summary).</summary>
    public IReadOnlyList<EndpointBinding> Bindings
    {
        get
        {
            lock (_lock)
            {
                return _bindings.ToArray();
            }
        }
    }

    public IDisposable BindDatagram(ServiceEndpoint endpoint, IDatagramHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (endpoint.Kind == EndpointKind.Virtual)
        {
            return Track(_virtualNetwork.BindDatagram(_guard, endpoint.Endpoint, handler), new EndpointBinding(PluginId, endpoint.Kind, endpoint.Endpoint, "udp"));
        }

        HostSocketLease lease = _sockets.LeaseDatagram(_guard, endpoint.Endpoint, handler);
        return Track(lease, new EndpointBinding(PluginId, endpoint.Kind, lease.Listener.Local, "udp"));
    }

    public IDisposable BindStream(ServiceEndpoint endpoint, IStreamHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (endpoint.Kind == EndpointKind.Virtual)
        {
            return Track(_virtualNetwork.BindStream(_guard, endpoint.Endpoint, handler), new EndpointBinding(PluginId, endpoint.Kind, endpoint.Endpoint, "tcp"));
        }

        HostSocketLease lease = _sockets.LeaseStream(_guard, endpoint.Endpoint, handler, _limits);
        return Track(lease, new EndpointBinding(PluginId, endpoint.Kind, lease.Listener.Local, "tcp"));
    }

    public IDisposable AddRoute(IpPrefix prefix, IPacketRoute route) => Track(_virtualNetwork.AddRoute(_guard, prefix, route), null);

    public IDisposable AddPacketHook(IPacketHook hook) => Track(_virtualNetwork.AddPacketHook(_guard, hook), null);

    public void ProtectSocket(Socket socket) => _virtualNetwork.ProtectSocket(socket);

    public INameResolver NameResolver => (INameResolver?)_nameResolver ?? SystemNameResolver.Instance;

    public IDisposable ProvideNameResolver(INameResolver resolver) =>
        _nameResolver is null ? EmptyRegistration.Instance : Track(_nameResolver.Provide(resolver), null);

    public IDisposable MapApi(string method, string path, ApiHandler handler) =>
        _apiRoutes is null ? EmptyRegistration.Instance : Track(_apiRoutes.Map(PluginId, method, path, handler), null);

    /// <summary>Signals <see cref="Stopping"/>.</summary>
    public void SignalStopping()
    {
        try
        {
            _stopping.Cancel();
        }
        catch (AggregateException ex)
        {
            // A plugin's callback on Stopping threw; the plugin is going away regardless.
            _guard.Report(ex);
        }
    }

    /// <summary>
    /// Drain start for a removed plugin: every socket and virtual endpoint stops taking new connections and datagrams;
    /// what is open keeps running until <see cref="DisposeRegistrations"/>.
    /// </summary>
    public void StopAccepting()
    {
        Registration[] all;
        lock (_lock)
        {
            all = _registrations.ToArray();
        }

        foreach (Registration registration in all)
        {
            registration.StopAccepting();
        }
    }

    /// <summary>Undoes every registration still alive, newest first, and releases the meter and config callbacks.</summary>
    public void DisposeRegistrations()
    {
        Registration[] left;
        lock (_lock)
        {
            left = _registrations.ToArray();
            _registrations.Clear();
            _bindings.Clear();
        }

        for (int i = left.Length - 1; i >= 0; i--)
        {
            left[i].Dispose();
        }

        Meter.Dispose();
        PluginConfiguration.Detach();
        _stopping.Dispose();
    }

    private Registration Track(IDisposable inner, EndpointBinding? binding)
    {
        var registration = new Registration(this, inner, binding);
        lock (_lock)
        {
            _registrations.Add(registration);
            if (binding is not null)
            {
                _bindings.Add(binding);
            }
        }

        return registration;
    }

    private void Remove(Registration registration)
    {
        lock (_lock)
        {
            _registrations.Remove(registration);
            if (registration.Binding is not null)
            {
                _bindings.Remove(registration.Binding);
            }
        }
    }

    private sealed class Registration : IDisposable
    {
        private readonly PluginContext _owner;
        private IDisposable? _inner;

        public Registration(PluginContext owner, IDisposable inner, EndpointBinding? binding)
        {
            _owner = owner;
            _inner = inner;
            Binding = binding;
        }

        public EndpointBinding? Binding { get; }

        public void StopAccepting()
        {
            if (Volatile.Read(ref _inner) is IAcceptingRegistration accepting)
            {
                accepting.StopAccepting();
            }
        }

        public void Dispose()
        {
            IDisposable? inner = Interlocked.Exchange(ref _inner, null);
            if (inner is null)
            {
                return;
            }

            _owner.Remove(this);
            try
            {
                inner.Dispose();
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                _owner._guard.Report(ex);
            }
        }
    }

    private sealed class EmptyRegistration : IDisposable
    {
        public static readonly EmptyRegistration Instance = new();

        public void Dispose()
        {
        }
    }
}
