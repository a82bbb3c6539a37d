using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Security;

/// <summary>
/// Who may query (<c>allowClients</c> minus <c>denyClients</c>). The default is dnsdist's ACL — loopback,
/// RFC 1918, 100.64.0.0/10 (RFC 6598 shared space), link-local and ULA — plus the TUN's own networks: everything
/// a LAN, a carrier-grade NAT, a container network or a WireGuard tunnel hands out, and nothing routable on the
/// Internet, so that a gateway exposed by mistake is not an open resolver. Lookups walk a prefix trie and
/// allocate nothing.
/// </summary>
internal sealed class ClientAcl
{
    /// <summary>dnsdist's default ACL (setACL), which unbound's access-control default also stays within.</summary>
    public static readonly string[] DefaultAllowed =
    [
        "127.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "192.168.0.0/16", "172.16.0.0/12",
        "::1/128", "fc00::/7", "fe80::/10",
    ];

    private readonly ClientNetworks _allow;
    private readonly ClientNetworks? _deny;

    private ClientAcl(IReadOnlyList<string> allowed, IReadOnlyList<string> denied)
    {
        Allowed = allowed;
        Denied = denied;
        _allow = new ClientNetworks(allowed);
        _deny = denied.Count == 0 ? null : new ClientNetworks(denied);
        AdmitsAll = denied.Count == 0 && _allow.Contains(NetAddress.Parse("203.0.113.1")) && _allow.Contains(NetAddress.Parse("2001:db8::1"));
    }

    /// <summary>The allowed networks in effect (the configured ones, or the default with the TUN's networks).</summary>
    public IReadOnlyList<string> Allowed { get; }

    /// <summary>The refused networks.</summary>
    public IReadOnlyList<string> Denied { get; }

    /// <summary>True when any address on the Internet may query (the operator opened the resolver).</summary>
    public bool AdmitsAll { get; }

    /// <summary>
    /// Builds the ACL: <paramref name="allow"/> when given (non-empty), else the default plus
    /// <paramref name="tunNetworks"/>. The lists were validated (every entry a CIDR).
    /// </summary>
    public static ClientAcl Create(IReadOnlyList<string>? allow, IReadOnlyList<string> deny, IEnumerable<IpPrefix> tunNetworks)
    {
        var allowed = new List<string>();
        if (allow is { Count: > 0 })
        {
            allowed.AddRange(allow);
        }
        else
        {
            allowed.AddRange(DefaultAllowed);
            foreach (IpPrefix network in tunNetworks)
            {
                allowed.Add(network.ToString());
            }
        }

        return new ClientAcl(allowed, [.. deny]);
    }

    /// <summary>True when <paramref name="client"/> may query.</summary>
    public bool IsAllowed(NetAddress client) => _allow.Contains(client) && (_deny is null || !_deny.Contains(client));

    /// <summary>
    /// True when an address is not one of the private kinds of the default ACL: a listener bound there (or on a
    /// wildcard address) can be reached from the Internet.
    /// </summary>
    public static bool IsPublic(NetAddress address) => address.IsUnspecified || !DefaultNetworks.Contains(address);

    private static readonly ClientNetworks DefaultNetworks = new(DefaultAllowed);
}
