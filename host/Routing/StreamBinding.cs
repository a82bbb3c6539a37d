using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Routing;

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
