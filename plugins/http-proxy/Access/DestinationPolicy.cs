using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Access;

/// <summary>
/// Which addresses the proxy connects to for a client (issue #13, SSRF): checked after name resolution, on the
/// address actually connected to, for every connection the proxy opens (plain requests, CONNECT, Upgrade, SOCKS),
/// so no spelling of a host (a name that resolves to 127.0.0.1, "2130706433", "[::ffff:127.0.0.1]") gets around
/// it. <c>allowDestinations</c> wins over <c>denyDestinations</c>; an address neither lists is allowed.
/// </summary>
/// <remarks>Immutable; a config reload builds a new one and connections keep the one they were admitted under.</remarks>
internal sealed class DestinationPolicy
{
    private readonly DestinationRule[] _deny;
    private readonly DestinationRule[] _allow;
    private readonly HostAddresses _host;

    public DestinationPolicy(IReadOnlyList<DestinationRule> deny, IReadOnlyList<DestinationRule> allow, HostAddresses host)
    {
        _deny = [.. deny];
        _allow = [.. allow];
        _host = host;
    }

    /// <summary>
    /// Checks <paramref name="address"/>; when it is refused, <paramref name="rule"/> names the
    /// <c>denyDestinations</c> entry that matched ("loopback", "this host's own address", "10.0.0.0/8").
    /// </summary>
    public bool IsAllowed(NetAddress address, out string rule)
    {
        address = HostAddresses.Unmap(address);
        rule = string.Empty;
        foreach (DestinationRule allow in _allow)
        {
            if (allow.Matches(address, _host))
            {
                return true;
            }
        }

        foreach (DestinationRule deny in _deny)
        {
            if (deny.Matches(address, _host))
            {
                rule = deny.Name;
                return false;
            }
        }

        return true;
    }
}
