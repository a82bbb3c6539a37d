using System.Net.Sockets;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Networking;

/// <summary>
/// The TUN side of the gateway (DESIGN §2): virtual endpoints, prefix routes, packet hooks and the
/// inbound path for tunnel plugins. Implemented by the TUN dispatcher when <c>host.tun.enabled</c>,
/// and by a disabled variant (that logs a warning per virtual binding) otherwise.
/// </summary>
internal interface IVirtualNetwork : IAsyncDisposable
{
    /// <summary>The TUN device, or null when disabled.</summary>
    ITunInfo? Tun { get; }

    /// <summary>Where tunnel plugins deliver packets from their peers.</summary>
    IPacketInjector Inbound { get; }

    /// <summary>Opens the device and starts the packet loops.</summary>
    Task StartAsync(CancellationToken cancellationToken);

    /// <summary>Serves datagrams on a virtual endpoint; handler calls go through <paramref name="guard"/>.</summary>
    IDisposable BindDatagram(PluginHandlerGuard guard, NetEndpoint endpoint, IDatagramHandler handler);

    /// <summary>Serves stream connections on a virtual endpoint; each connection runs through <paramref name="guard"/>.</summary>
    IDisposable BindStream(PluginHandlerGuard guard, NetEndpoint endpoint, IStreamHandler handler);

    /// <summary>Routes a prefix (from the TUN) to a plugin's packet route.</summary>
    IDisposable AddRoute(PluginHandlerGuard guard, IpPrefix prefix, IPacketRoute route);

    /// <summary>Adds a raw packet hook.</summary>
    IDisposable AddPacketHook(PluginHandlerGuard guard, IPacketHook hook);

    /// <summary>Marks a socket so its traffic bypasses the TUN (fwmark); no-op when disabled.</summary>
    void ProtectSocket(Socket socket);
}
