using Gateway.Sdk.Networking;

namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>One entry of <c>wireguard.peers</c>.</summary>
internal sealed class WireGuardPeerOptions
{
    /// <summary><c>publicKey</c>: the peer's public key, base64 of 32 bytes. Required.</summary>
    public byte[] PublicKey { get; set; } = [];

    /// <summary>
    /// <c>presharedKey</c>: optional symmetric key mixed into the handshake (base64 of 32 bytes, `wg genpsk`), adding a
    /// post-quantum layer. Defaults to none (all zeros on the wire, as in wg).
    /// </summary>
    public byte[]? PresharedKey { get; set; }

    /// <summary>
    /// <c>endpoint</c>: "ip:port", "[ipv6]:port" or "host:port" to reach the peer at first; it then follows the peer
    /// (roaming). A host name is resolved once when the plugin starts (first address the system resolver returns),
    /// like wg(8) does. Defaults to none: the peer must contact us first.
    /// </summary>
    public NetEndpoint? Endpoint { get; set; }

    /// <summary>The <c>endpoint</c> as written when it is "host:port" (resolved at start into <see cref="Endpoint"/>).</summary>
    public string? EndpointHost { get; set; }

    /// <summary><c>allowedIps</c>: prefixes routed to this peer and accepted as sources from it. Defaults to none.</summary>
    public List<IpPrefix> AllowedIps { get; } = new();

    /// <summary><c>persistentKeepalive</c>: seconds between keepalives to keep NAT mappings open, 0–65535 (0 = off). Defaults to 0.</summary>
    public int PersistentKeepalive { get; set; }
}
