using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Routing;

/// <summary>The gateway's TUN device, as configured under <c>host.tun</c>.</summary>
public interface ITunInfo
{
    /// <summary>The interface name (for example "gw0").</summary>
    string Name { get; }

    /// <summary>The interface addresses with their prefix lengths; they are also the tunnel addresses.</summary>
    IReadOnlyList<IpPrefix> Addresses { get; }

    /// <summary>The MTU in bytes.</summary>
    int Mtu { get; }
}
