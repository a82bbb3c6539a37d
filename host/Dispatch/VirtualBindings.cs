using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Dispatch;

/// <summary>A datagram handler bound to a virtual endpoint.</summary>
internal sealed class DatagramBinding(NetEndpoint endpoint, IDatagramHandler handler, PluginHandlerGuard guard)
{
    public NetEndpoint Endpoint { get; } = endpoint;

    public IDatagramHandler Handler { get; } = handler;

    public PluginHandlerGuard Guard { get; } = guard;
}

/// <summary>A stream handler bound to a virtual endpoint; <see cref="Stopping"/> ends its connections when unbound.</summary>
internal sealed class StreamBinding(NetEndpoint endpoint, IStreamHandler handler, PluginHandlerGuard guard)
{
    private readonly CancellationTokenSource _stopping = new();

    public NetEndpoint Endpoint { get; } = endpoint;

    public IStreamHandler Handler { get; } = handler;

    public PluginHandlerGuard Guard { get; } = guard;

    public CancellationToken Stopping => _stopping.Token;

    public void Stop() => _stopping.Cancel();
}

/// <summary>A plugin's prefix route.</summary>
internal sealed class PrefixRoute(IpPrefix prefix, IPacketRoute route, PluginHandlerGuard guard)
{
    public IpPrefix Prefix { get; } = prefix;

    public IPacketRoute Route { get; } = route;

    public PluginHandlerGuard Guard { get; } = guard;
}

/// <summary>A plugin's raw packet hook.</summary>
internal sealed class HookBinding(IPacketHook hook, PluginHandlerGuard guard)
{
    public IPacketHook Hook { get; } = hook;

    public PluginHandlerGuard Guard { get; } = guard;
}
