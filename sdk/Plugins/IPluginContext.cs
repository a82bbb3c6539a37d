using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Gateway.Sdk.Api;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Sdk.Plugins;

/// <summary>What the host gives a plugin: its configuration, logging, metrics, and the ways to plug into the network.</summary>
/// <remarks>
/// Every registration returns an <see cref="IDisposable"/> that undoes it. Registrations still alive
/// when the plugin stops are undone by the host.
/// </remarks>
public interface IPluginContext
{
    /// <summary>The plugin's id.</summary>
    string PluginId { get; }

    /// <summary>
    /// The plugin's configuration section (top-level key = plugin id). It follows reloads of gateway.yaml:
    /// watch <c>Configuration.GetReloadToken()</c> to react. A reloaded file is validated first (including
    /// <see cref="IGatewayPlugin.Validate"/>); a bad one is reported and never reaches the plugin.
    /// </summary>
    IConfiguration Configuration { get; }

    /// <summary>The folder of the configuration file; resolve relative paths in the configuration against it.</summary>
    string ConfigDirectory { get; }

    /// <summary>The folder the plugin was loaded from.</summary>
    string PluginDirectory { get; }

    /// <summary>
    /// Loggers; categories are prefixed with the plugin id by the host ("Listener" becomes "echo.Listener"); the plugin
    /// id itself and categories already starting with "&lt;id&gt;." are kept as they are. The level of every category of
    /// the plugin follows <c>&lt;id&gt;.logLevel</c> in gateway.yaml (error, warn, info, debug), else <c>host.logLevel</c>.
    /// </summary>
    /// <remarks>
    /// Give every <c>[LoggerMessage]</c> an explicit <c>EventId</c>, numbered in one file per plugin (see docs/logging.md):
    /// without one the source generator derives an id from the method name's hash, and the console shows it as
    /// <c>echo[1929458206]</c>.
    /// </remarks>
    ILoggerFactory LoggerFactory { get; }

    /// <summary>
    /// The plugin's main logger, whose category is the plugin id (log lines read <c>echo[100]: ...</c>). Read it once at
    /// start and keep it. The default implementation creates it from <see cref="LoggerFactory"/>.
    /// </summary>
    ILogger Logger => LoggerFactory.CreateLogger(PluginId);

    /// <summary>
    /// The plugin's meter ("Gateway.Plugins.&lt;id&gt;"). Its instruments are exported on the admin
    /// listener's /metrics (Prometheus) and to statsd, and are visible to dotnet-counters.
    /// </summary>
    Meter Meter { get; }

    /// <summary>
    /// The endpoints configured for this plugin through its section's <c>listen:</c> (host sockets) and
    /// <c>virtual:</c> (TUN) keys, already parsed and validated by the host. Virtual endpoints are listed
    /// even when the TUN is disabled; binding them then logs a warning and does nothing.
    /// </summary>
    IReadOnlyList<ServiceEndpoint> ConfiguredEndpoints { get; }

    /// <summary>The TUN device, or null when <c>host.tun.enabled</c> is false.</summary>
    ITunInfo? Tun { get; }

    /// <summary>Signalled when the plugin is being stopped or unloaded, or the gateway shuts down.</summary>
    CancellationToken Stopping { get; }

    /// <summary>
    /// True when this start replaces a running version of the plugin (a plugin folder swap): that version drains and
    /// has released its exclusive resources (<see cref="IGatewayPlugin.ReleaseExclusiveResourcesAsync"/>). Sessions its
    /// peers hold with it are not carried over; a plugin may re-establish them at once (WireGuard handshakes again).
    /// </summary>
    bool IsReplacement => false;

    /// <summary>Serves datagrams (UDP) on <paramref name="endpoint"/>.</summary>
    /// <exception cref="SocketException">A host socket could not be bound (address in use, not local).</exception>
    IDisposable BindDatagram(ServiceEndpoint endpoint, IDatagramHandler handler);

    /// <summary>Serves stream connections (TCP) on <paramref name="endpoint"/>.</summary>
    /// <exception cref="SocketException">A host socket could not be bound (address in use, not local).</exception>
    IDisposable BindStream(ServiceEndpoint endpoint, IStreamHandler handler);

    /// <summary>
    /// Routes packets read from the TUN whose destination is inside <paramref name="prefix"/> to
    /// <paramref name="route"/> (longest prefix wins), and routes that prefix into the TUN on the host.
    /// </summary>
    IDisposable AddRoute(IpPrefix prefix, IPacketRoute route);

    /// <summary>Adds a raw packet hook to the dispatcher (for both directions).</summary>
    IDisposable AddPacketHook(IPacketHook hook);

    /// <summary>Where a tunnel plugin delivers packets received from its peers.</summary>
    IPacketInjector Inbound { get; }

    /// <summary>
    /// Marks a socket the plugin opens towards the outside world (WireGuard UDP, upstream connections,
    /// proxy egress) so its traffic never loops back into the gateway's own TUN (fwmark + policy routing,
    /// as wg-quick does). Call before connecting or binding. Does nothing when the TUN is disabled.
    /// </summary>
    void ProtectSocket(Socket socket);

    /// <summary>
    /// Serves <paramref name="method"/> requests for <c>/api/v1/plugins/&lt;id&gt;/&lt;path&gt;</c> on the admin
    /// listener (for example <c>MapApi("GET", "stats", ...)</c>). The host authenticates the request first (the
    /// admin token) and answers 404/405 for paths and methods no plugin mapped. Mapping a method and path that
    /// is already mapped replaces the earlier handler. Routes are removed when the returned registration is
    /// disposed or the plugin stops; a plugin that is replaced maps its routes again from its new version.
    /// </summary>
    /// <param name="method">"GET", "POST", "PUT" or "DELETE".</param>
    /// <param name="path">The path below the plugin's prefix, without a leading '/': letters, digits, '-', '_', '.' and '/'.</param>
    /// <param name="handler">Answers the request.</param>
    /// <remarks>The default implementation (a host without an admin API) accepts the route and never calls it.</remarks>
    IDisposable MapApi(string method, string path, ApiHandler handler) => NoRegistration.Instance;

    /// <summary>
    /// The gateway's name resolver: the one a plugin provided with <see cref="ProvideNameResolver"/> (dns-dot does,
    /// so names resolve through its rules, cache and upstreams and never reach the system resolver), else the
    /// system resolver. Read it at each use: the provider can come and go while the gateway runs.
    /// </summary>
    /// <remarks>The default implementation is the system resolver.</remarks>
    INameResolver NameResolver => SystemNameResolver.Instance;

    /// <summary>
    /// Offers <paramref name="resolver"/> as the gateway's name resolver for every plugin (see
    /// <see cref="NameResolver"/>) until the registration is disposed or this plugin stops. The newest provider
    /// wins. A resolver must not resolve through the plugins it serves (no loops): dns-dot answers from its own
    /// pipeline.
    /// </summary>
    /// <remarks>The default implementation (a host without sharing) ignores the resolver.</remarks>
    IDisposable ProvideNameResolver(INameResolver resolver) => NoRegistration.Instance;

    private sealed class NoRegistration : IDisposable
    {
        public static readonly NoRegistration Instance = new();

        public void Dispose()
        {
        }
    }
}
