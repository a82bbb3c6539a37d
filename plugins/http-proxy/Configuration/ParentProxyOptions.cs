using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>
/// One entry of <c>parents:</c>: a proxy requests go through when their destination matches (squid's
/// <c>cache_peer ... parent</c> with <c>cache_peer_access</c>, tinyproxy's <c>Upstream</c>). Entries are tried in order;
/// an entry with neither <c>domains</c> nor <c>networks</c> matches every destination.
/// </summary>
internal sealed class ParentProxyOptions
{
    /// <summary>
    /// The parent (<c>proxy</c>, required): <c>http://host:port</c> or <c>socks5://host:port</c>, with optional
    /// credentials <c>http://user:pass@host:port</c> (sent as <c>Proxy-Authorization: Basic</c>; for socks5 as RFC 1929
    /// username/password). Percent-encode ':' and '@' in them. The port is required. Security: the password is never
    /// logged or shown in errors; it crosses the network to the parent in clear text (Basic and RFC 1929 are not
    /// encrypted), so keep the parent on a network you trust.
    /// </summary>
    public string? Proxy { get; init; }

    /// <summary>
    /// Destination names sent to this parent (<c>domains</c>): each matches the name itself and every name below it
    /// (<c>example.test</c> matches example.test and www.example.test, as squid's <c>dstdomain .example.test</c>); a
    /// leading dot is allowed and means the same. Case-insensitive. Defaults to none.
    /// </summary>
    public IReadOnlyList<string> Domains { get; init; } = [];

    /// <summary>
    /// Destination networks sent to this parent (<c>networks</c>, CIDR list; a bare address is a /32 or /128): matched
    /// against an IP-literal destination, or against the addresses a name resolves to (the gateway resolves a name
    /// for this only when no <c>domains</c> entry matched it first). Defaults to none.
    /// </summary>
    public IReadOnlyList<IpPrefix> Networks { get; init; } = [];

    /// <summary>The parsed <see cref="Proxy"/>: scheme, host, port and credentials (set by the options reader).</summary>
    internal ParentProxyUrl? Url { get; init; }
}
