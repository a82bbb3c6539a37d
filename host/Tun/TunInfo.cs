using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Tun;

/// <summary>The TUN device as plugins see it.</summary>
internal sealed class TunInfo(string name, IReadOnlyList<IpPrefix> addresses, int mtu) : ITunInfo
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public IReadOnlyList<IpPrefix> Addresses { get; } = addresses;

    /// <inheritdoc/>
    public int Mtu { get; } = mtu;
}
