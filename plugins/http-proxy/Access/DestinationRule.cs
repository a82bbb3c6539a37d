using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Access;

/// <summary>
/// One entry of <c>denyDestinations</c>/<c>allowDestinations</c>: a CIDR prefix, a named address class
/// (<c>loopback</c>, <c>linkLocal</c>, <c>unspecified</c>, <c>multicast</c>), or <c>self</c> — every address of this
/// host, read from its interfaces as they are now (squid's <c>to_localhost</c>, <c>to_linklocal</c> in one list).
/// </summary>
internal sealed class DestinationRule
{
    private readonly IpPrefix[] _prefixes;
    private readonly bool _self;

    private DestinationRule(string name, IpPrefix[] prefixes, bool self)
    {
        Name = name;
        _prefixes = prefixes;
        _self = self;
    }

    /// <summary>How the rule was written: shown in the 403 body and the log.</summary>
    public string Name { get; }

    /// <summary>The entries of the default <c>denyDestinations</c>, which the name <c>default</c> also stands for.</summary>
    public static IReadOnlyList<DestinationRule> Defaults { get; } =
    [
        Named("loopback")!, Named("linkLocal")!, Named("unspecified")!, Named("multicast")!, Named("self")!,
    ];

    /// <summary>The names <see cref="TryParse"/> accepts besides CIDR prefixes and addresses.</summary>
    public static string KnownNames => "default, loopback, linkLocal, unspecified, multicast, self";

    /// <summary>Parses one list entry; <c>default</c> yields all of <see cref="Defaults"/>.</summary>
    public static bool TryParse(string text, List<DestinationRule> into)
    {
        text = text.Trim();
        if (string.Equals(text, "default", StringComparison.OrdinalIgnoreCase))
        {
            into.AddRange(Defaults);
            return true;
        }

        if (Named(text) is { } named)
        {
            into.Add(named);
            return true;
        }

        if (IpPrefix.TryParse(text, out IpPrefix prefix))
        {
            into.Add(new DestinationRule(prefix.ToString(), [prefix], self: false));
            return true;
        }

        if (NetAddress.TryParse(text, out NetAddress address))
        {
            into.Add(new DestinationRule(address.ToString(), [new IpPrefix(address, address.BitLength)], self: false));
            return true;
        }

        return false;
    }

    public bool Matches(NetAddress address, HostAddresses host)
    {
        if (_self && host.Contains(address))
        {
            return true;
        }

        foreach (IpPrefix prefix in _prefixes)
        {
            if (prefix.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private static DestinationRule? Named(string name) => name.ToLowerInvariant() switch
    {
        "loopback" => new DestinationRule("loopback", [IpPrefix.Parse("127.0.0.0/8"), IpPrefix.Parse("::1/128")], self: false),
        // 169.254.169.254 is where cloud metadata services answer (with credentials).
        "linklocal" => new DestinationRule("link-local", [IpPrefix.Parse("169.254.0.0/16"), IpPrefix.Parse("fe80::/10")], self: false),
        // Linux connects 0.0.0.0 (and ::) to this host itself.
        "unspecified" => new DestinationRule("unspecified", [IpPrefix.Parse("0.0.0.0/8"), IpPrefix.Parse("::/128")], self: false),
        "multicast" => new DestinationRule("multicast or broadcast", [IpPrefix.Parse("224.0.0.0/4"), IpPrefix.Parse("255.255.255.255/32"), IpPrefix.Parse("ff00::/8")], self: false),
        "self" => new DestinationRule("this host's own address", [], self: true),
        _ => null,
    };
}
