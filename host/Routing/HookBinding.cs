using Gateway.Host.Networking;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Routing;

/// <summary>A plugin's raw packet hook.</summary>
internal sealed class HookBinding(IPacketHook hook, PluginHandlerGuard guard)
{
    public IPacketHook Hook { get; } = hook;

    public PluginHandlerGuard Guard { get; } = guard;
}
