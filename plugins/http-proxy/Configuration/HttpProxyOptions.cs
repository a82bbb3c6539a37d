using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>
/// The <c>http-proxy:</c> section of gateway.yaml (besides <c>listen:</c> and <c>virtual:</c>, which the
/// host parses). Read by <see cref="HttpProxyOptionsReader"/>; an immutable snapshot once read.
/// </summary>
internal sealed class HttpProxyOptions
{
    /// <summary>
    /// Client networks allowed to use the proxy (<c>allowClients</c>, CIDR list). Defaults to loopback and
    /// private networks (127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7).
    /// Security: an open forward proxy is abused within hours; list only networks you trust.
    /// </summary>
    public IReadOnlyList<IpPrefix> AllowClients { get; init; } = DefaultAllowClients;

    /// <summary>Client networks refused even when <see cref="AllowClients"/> matches (<c>denyClients</c>). Defaults to none.</summary>
    public IReadOnlyList<IpPrefix> DenyClients { get; init; } = [];

    /// <summary>
    /// Destination ports allowed for plain http:// requests (<c>allowedPorts</c>). Defaults to empty,
    /// which allows every port.
    /// </summary>
    public IReadOnlyList<int> AllowedPorts { get; init; } = [];

    /// <summary>
    /// Destination ports remote clients may open CONNECT tunnels to (<c>connectPorts</c>). Defaults to [443].
    /// Applies to remote clients only: a local client (its source address is one of this host's own — loopback,
    /// or the TUN's address when an application here reaches a virtual endpoint) may CONNECT to any port, since
    /// it could connect there directly anyway. A packet that came in through the TUN from elsewhere (IP
    /// forwarding, a WireGuard peer) is remote. Security: for remote clients, CONNECT to arbitrary ports
    /// turns the proxy into a generic TCP relay (SMTP spam, SSH).
    /// </summary>
    public IReadOnlyList<int> ConnectPorts { get; init; } = [443];

    /// <summary>
    /// Destinations remote clients may not reach (<c>denyDestinations</c>): CIDR prefixes, addresses, and the names
    /// <c>loopback</c>, <c>linkLocal</c> (169.254.169.254, cloud metadata, is in it), <c>unspecified</c>,
    /// <c>multicast</c>, <c>self</c> (every address of this host, as its interfaces have them now) and <c>default</c>
    /// (all of those). Defaults to <c>[default]</c>. Checked after name resolution on every address the proxy
    /// connects to — plain requests, CONNECT, Upgrade, SOCKS — and answered 403 with the rule that matched.
    /// Local clients (see <see cref="ConnectPorts"/>) are not held to it: they could connect there themselves.
    /// Security: listing your own entries replaces the default; write <c>[default, 10.0.0.0/8]</c> to add to it.
    /// Without it a client reaches the gateway's admin listener, /metrics and every loopback service (SSRF).
    /// </summary>
    public IReadOnlyList<DestinationRule> DenyDestinations { get; init; } = DestinationRule.Defaults;

    /// <summary>
    /// Exceptions to <see cref="DenyDestinations"/> (<c>allowDestinations</c>): the same kinds of entries; an address
    /// listed here is reached even when a deny entry matches it. Defaults to none.
    /// </summary>
    public IReadOnlyList<DestinationRule> AllowDestinations { get; init; } = [];

    /// <summary>
    /// SOCKS-only host sockets (<c>socksListen</c>, "ip:port" list). Defaults to none: SOCKS5 and SOCKS4a are served on
    /// every <c>listen:</c> and <c>virtual:</c> endpoint anyway, told apart from HTTP by the first byte; these endpoints
    /// serve nothing but SOCKS (an HTTP request there is closed). Security: the same client ACL, ports and destination
    /// policy apply as to HTTP.
    /// </summary>
    public IReadOnlyList<NetEndpoint> SocksListen { get; init; } = [];

    /// <summary>Most client connections served at once (<c>maxConnections</c>); more get 503. Defaults to 10000.</summary>
    public int MaxConnections { get; init; } = 10_000;

    /// <summary>Largest request or response head, in bytes (<c>maxHeaderBytes</c>); larger requests get 431. Defaults to 32768 (32 KiB).</summary>
    public int MaxHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>Most header fields in one head (<c>maxHeaderCount</c>); more get 431. Defaults to 100.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>How long an idle client connection is kept between requests (<c>keepAliveTimeoutSeconds</c>). Defaults to 120 s.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// How long a client may take to send a whole request head once it started (<c>requestHeadersTimeoutSeconds</c>);
    /// then it gets 408 and is closed, so slow clients cannot hold connection slots. Defaults to 30 s.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long connecting to an origin may take (<c>originConnectTimeoutSeconds</c>); then 504. Defaults to 10 s.</summary>
    public TimeSpan OriginConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the origin may take to start its response (<c>originResponseTimeoutSeconds</c>); then 504. Defaults to 60 s.</summary>
    public TimeSpan OriginResponseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a body transfer may stall in either direction (<c>idleTimeoutSeconds</c>); then the connection is closed. Defaults to 120 s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// How long a CONNECT tunnel, or a connection upgraded by a 101 (RFC 9110 §7.8), may carry no data in either
    /// direction (<c>tunnelIdleTimeoutSeconds</c>). Defaults to 300 s.
    /// </summary>
    public TimeSpan TunnelIdleTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Idle origin connections kept per origin host:port (<c>poolMaxIdlePerOrigin</c>); 0 disables pooling. Defaults to 32.</summary>
    public int PoolMaxIdlePerOrigin { get; init; } = 32;

    /// <summary>How long an idle origin connection stays in the pool (<c>poolIdleTimeoutSeconds</c>). Defaults to 30 s.</summary>
    public TimeSpan PoolIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Receive buffer per socket, in bytes (<c>bufferSize</c>); also the most body bytes moved per syscall. Defaults to 65536 (64 KiB).</summary>
    public int BufferSize { get; init; } = 64 * 1024;

    /// <summary>The shared HTTP cache (<c>cache:</c>). Defaults to on, 64 MiB, objects up to 4 MiB.</summary>
    public HttpCacheOptions Cache { get; init; } = new();

    internal static IReadOnlyList<IpPrefix> DefaultAllowClients { get; } =
    [
        IpPrefix.Parse("127.0.0.0/8"),
        IpPrefix.Parse("::1/128"),
        IpPrefix.Parse("10.0.0.0/8"),
        IpPrefix.Parse("172.16.0.0/12"),
        IpPrefix.Parse("192.168.0.0/16"),
        IpPrefix.Parse("fc00::/7"),
    ];

    /// <summary>Proxy authentication (<c>auth</c>): off unless users are configured. See <see cref="ProxyAuthOptions"/>.</summary>
    public ProxyAuthOptions Auth { get; init; } = new();

    /// <summary>The access log (<c>accessLog</c>): off unless a path is set. See <see cref="AccessLogOptions"/>.</summary>
    public AccessLogOptions AccessLog { get; init; } = new();

    /// <summary>
    /// Parent proxies (<c>parents</c>, a list of <c>{ proxy, domains, networks }</c>): a request or tunnel whose
    /// destination matches entries goes through the first of them that is up, then the next, then direct unless
    /// <c>neverDirect</c>. A parent that refuses or times out the connection is skipped for 10 s, doubling up
    /// to 5 min while it stays down. Defaults to none (everything direct). Security: the destination policy
    /// (<c>denyDestinations</c>) applies to IP-literal destinations and to names the gateway resolved for a
    /// <c>networks</c> match; a name sent to a parent unresolved is checked by the parent only (see the README).
    /// </summary>
    public IReadOnlyList<ParentProxyOptions> Parents { get; init; } = [];

    /// <summary>
    /// When every parent matching a destination is down or refused the connection, answer 502 (SOCKS: reply 1, general
    /// failure) instead of connecting directly (<c>neverDirect</c>, squid's <c>never_direct</c>). Destinations no parent
    /// matches still go direct. Defaults to false.
    /// </summary>
    public bool NeverDirect { get; init; }
}
