using Gateway.Host.Nat;

namespace Gateway.Host.Configuration;

/// <summary>The TUN device (<c>host.tun</c>).</summary>
internal sealed class TunOptions
{
    /// <summary>Creates the TUN device and serves <c>virtual:</c> endpoints and prefix routes. Needs root or CAP_NET_ADMIN. Defaults to false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The interface name. Defaults to "gw0".</summary>
    public string Name { get; set; } = "gw0";

    /// <summary>
    /// Interface addresses in CIDR form (IPv4 and IPv6); they are also the WireGuard tunnel addresses and the
    /// addresses the TCP listeners of virtual endpoints bind to (one per family). Defaults to
    /// [10.30.30.1/24, fd00:30::1/64], which covers the dns-dot plugin's default virtual endpoints
    /// (10.30.30.30:53, [fd00:30::30]:53). When the host has IPv6 disabled the IPv6 address is skipped with a warning.
    /// </summary>
    public List<string> Addresses { get; set; } = ["10.30.30.1/24", "fd00:30::1/64"];

    /// <summary>The MTU in bytes (576–65535 for IPv4, at least 1280 when an IPv6 address is set). Defaults to 1420.</summary>
    public int Mtu { get; set; } = 1420;

    /// <summary>
    /// Live TCP NAT sessions (virtual endpoints reached through the TUN) one source may hold: an IPv4 address or an
    /// IPv6 /64. At the cap, the source's own oldest half-open session makes room for its next SYN; when it has none,
    /// the SYN is dropped (counted as nat_source_limit). Host applications all come from the TUN's own address, so
    /// together they are one source. Defaults to 4096 (1–64512). Security: bounds what one client's SYN flood takes.
    /// </summary>
    public int NatMaxPerSource { get; set; } = NatLimits.DefaultMaxPerSource;

    /// <summary>
    /// TCP NAT sessions per address family, closed ones waiting out TIME_WAIT included (each holds a NAT port). When
    /// full, the oldest closed session, then the oldest half-open one, makes room; established sessions are never
    /// dropped. Defaults to 64512, every NAT port (1–64512). Memory: about 300 bytes per session.
    /// </summary>
    public int NatMaxSessions { get; set; } = NatLimits.PortCount;

    /// <summary>
    /// Seconds a TCP NAT session whose handshake the client has not completed keeps its port; only the client's
    /// segments refresh it. Defaults to 30 (5–240). Security: a SYN flood's sessions free their ports this fast.
    /// </summary>
    public int NatHalfOpenTimeoutSeconds { get; set; } = NatLimits.DefaultHalfOpenTimeoutSeconds;

    /// <summary>The NAT table limits these options set.</summary>
    public NatLimits ToNatLimits() => new(NatMaxSessions, NatMaxPerSource, TimeSpan.FromSeconds(NatHalfOpenTimeoutSeconds));
}
