using System.Collections.Concurrent;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>
/// The rules in force for the connections admitted while they are current: the options and what is built from
/// them (client ACL, destination policy, connector timeouts, parent proxies, the cache). Immutable; a config reload builds new
/// rules and swaps them in (YARP's IProxyConfig), and a connection keeps the rules it was admitted under to its end.
/// </summary>
internal sealed class ProxyRules
{
    /// <param name="parentHealth">The parents' up/down state by name, shared by every generation of rules.</param>
    public ProxyRules(HttpProxyOptions options, HostAddresses hostAddresses, Action<Socket> protectSocket, Func<INameResolver> resolver, HttpCache? cache,
        ConcurrentDictionary<string, ParentHealth> parentHealth, HttpProxyMetrics metrics, ILogger logger, WarningLimiter warnings)
    {
        Options = options;
        Access = new AccessControl(options);
        Destinations = new DestinationPolicy(options.DenyDestinations, options.AllowDestinations, hostAddresses);
        Connector = new OriginConnector(protectSocket, resolver, options.OriginConnectTimeout);
        Cache = cache;
        Parents = new ParentRouter(options.Parents, options.NeverDirect, parentHealth, Connector, metrics, logger, warnings);
    }

    public HttpProxyOptions Options { get; }

    /// <summary>Who may use the proxy and which ports it reaches (allowClients/denyClients, allowedPorts/connectPorts).</summary>
    public AccessControl Access { get; }

    /// <summary>Where remote clients may not connect (denyDestinations/allowDestinations).</summary>
    public DestinationPolicy Destinations { get; }

    /// <summary>Resolves and connects with these rules' timeouts.</summary>
    public OriginConnector Connector { get; }

    /// <summary>The parent proxies (<c>parents</c>, <c>neverDirect</c>); empty when none is configured.</summary>
    public ParentRouter Parents { get; }

    /// <summary>The shared response cache, or null when <c>cache.enabled</c> is false.</summary>
    public HttpCache? Cache { get; }
}
