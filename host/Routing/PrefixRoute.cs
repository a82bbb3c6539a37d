using Gateway.Host.Networking;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Routing;

/// <summary>A plugin's prefix route.</summary>
internal sealed class PrefixRoute(IpPrefix prefix, IPacketRoute route, PluginHandlerGuard guard)
{
    public IpPrefix Prefix { get; } = prefix;

    public IPacketRoute Route { get; } = route;

    public PluginHandlerGuard Guard { get; } = guard;
}
