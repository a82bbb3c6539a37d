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
}
