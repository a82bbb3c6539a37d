using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Routing;

/// <summary>A datagram handler bound to a virtual endpoint.</summary>
internal sealed class DatagramBinding(NetEndpoint endpoint, IDatagramHandler handler, PluginHandlerGuard guard)
{
    public NetEndpoint Endpoint { get; } = endpoint;

    public IDatagramHandler Handler { get; } = handler;

    public PluginHandlerGuard Guard { get; } = guard;
}
