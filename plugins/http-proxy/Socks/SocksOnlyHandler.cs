using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.HttpProxy.Socks;

/// <summary>The stream handler bound to <c>socksListen:</c> endpoints: the proxy's handler, SOCKS only.</summary>
internal sealed class SocksOnlyHandler : IStreamHandler
{
    private readonly HttpProxyHandler _proxy;

    public SocksOnlyHandler(HttpProxyHandler proxy) => _proxy = proxy;

    public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => _proxy.HandleAsync(connection, socksOnly: true, cancellationToken);
}
