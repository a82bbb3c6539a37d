namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// The <c>dns-dot</c> section of gateway.yaml (DESIGN §5). <c>listen:</c> and <c>virtual:</c> are parsed by
/// the host. When <c>virtual:</c> is absent and the TUN is enabled, the plugin serves 10.30.30.30:53 and
/// [fd00:30::30]:53 on the TUN. When the whole section is absent the plugin stays idle.
/// </summary>
internal sealed class DnsDotOptions
{
    /// <summary>The default upstream group's upstreams.</summary>
    public List<UpstreamOptions> Upstreams { get; set; } = new();

    /// <summary>
    /// The default group's load-balancing policy: <c>leastOutstanding</c> (latency-aware; the default),
    /// <c>roundRobin</c>, <c>random</c>, <c>historicalConnections</c>, <c>availability</c> or <c>failover</c>.
    /// </summary>
    public string Policy { get; set; } = "leastOutstanding";

    /// <summary>Named upstream groups for rule scripts' <c>Forward(group)</c>.</summary>
    public Dictionary<string, UpstreamGroupOptions> Groups { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The cache.</summary>
    public CacheOptions Cache { get; set; } = new();

    /// <summary>Rule script globs (compiled by the rules component; listed here so binding accepts the key).</summary>
    public List<string> Rules { get; set; } = new();

    /// <summary>
    /// What a start does while rule scripts that have no image in the compiled-script cache compile (a first start,
    /// an upgrade, a script edited while the gateway was stopped; Roslyn then takes seconds): <c>fast</c> (the
    /// default) is ready at once and answers as if the scripts had no rules until they load: client policy, lists,
    /// local records, the cache and forwarding still apply; <c>refuse</c> is ready at once and answers REFUSED until
    /// they load (stub resolvers then ask their next server); <c>wait</c> is ready only once they are compiled.
    /// Scripts all found in the cache load before "gateway ready" in every mode, and reloads always keep the previous
    /// rules until the new ones are compiled. Security: with <c>fast</c>, a name only a script blocks resolves
    /// during the compile (seconds); choose <c>refuse</c> or <c>wait</c> when that matters.
    /// </summary>
    public string RulesStartup { get; set; } = "fast";

    /// <summary>
    /// Largest UDP answer, in bytes, whatever the client's EDNS size says (DNS flag day 2020: 1232 avoids
    /// fragmentation). Defaults to 1232.
    /// </summary>
    public int MaxUdpSize { get; set; } = 1232;

    /// <summary>Time a client query may take end to end before SERVFAIL (or a stale answer), in milliseconds. Defaults to 3,000.</summary>
    public int QueryTimeoutMs { get; set; } = 3_000;

    /// <summary>TCP connect timeout towards an upstream, in milliseconds. Defaults to 2,000.</summary>
    public int ConnectTimeoutMs { get; set; } = 2_000;

    /// <summary>TLS handshake timeout towards an upstream, in milliseconds. Defaults to 3,000.</summary>
    public int HandshakeTimeoutMs { get; set; } = 3_000;

    /// <summary>Time to wait for one upstream answer before retrying once on a fresh connection, in milliseconds. Defaults to 1,500.</summary>
    public int ReadTimeoutMs { get; set; } = 1_500;

    /// <summary>
    /// Upstream connections idle for this long are closed and replaced before the server's own idle timeout
    /// would (dotproxy's <c>stale_timeout</c>); an RFC 7828 keepalive offered by the server shortens it.
    /// In milliseconds. Defaults to 10,000.
    /// </summary>
    public int IdleTimeoutMs { get; set; } = 10_000;

    /// <summary>Connections kept open (pre-warmed) per upstream. Defaults to 1.</summary>
    public int MinConnections { get; set; } = 1;

    /// <summary>
    /// Most connections per upstream (<c>upstreamMaxConnections</c>). Defaults to 4. Not <c>maxConnections</c>: in
    /// every plugin section that key is the host's limit of the plugin's TCP listeners (DNS over TCP here), and one
    /// key meaning two things made raising the pool also cap the listener (and the other way round).
    /// </summary>
    public int UpstreamMaxConnections { get; set; } = 4;

    /// <summary>Most queries in flight on one upstream connection. Defaults to 128.</summary>
    public int MaxInFlightPerConnection { get; set; } = 128;

    /// <summary>
    /// Idle timeout of client TCP and DoT connections, in milliseconds (RFC 7766 §6.2.3); also the time a query may
    /// take to arrive whole from its first byte, so a client trickling bytes cannot hold a connection (slowloris).
    /// Defaults to 10,000.
    /// </summary>
    public int ClientIdleTimeoutMs { get; set; } = 10_000;

    /// <summary>
    /// Forward the EDNS Client Subnet option (RFC 7871) to upstreams. Defaults to false: it reveals the
    /// client's network to the upstream operator.
    /// </summary>
    public bool ForwardClientSubnet { get; set; }

    // Serving: who may ask, how fast, what one TCP connection may hold, and the encrypted listeners
    // (docs/security.md; issue 13 and 15). Checked by ServingOptionsValidator.

    /// <summary>
    /// Client networks allowed to query (<c>allowClients</c>, CIDR list; applies to every transport and endpoint).
    /// Defaults to loopback, RFC 1918, 100.64.0.0/10, link-local, ULA (fc00::/7) and the TUN's own networks, as
    /// dnsdist's default ACL; others get REFUSED. An empty list keeps the default.
    /// Security: an open resolver is found and abused for reflection within days; to serve anyone, write
    /// <c>[0.0.0.0/0, ::/0]</c> deliberately (and set <c>rateLimit</c>).
    /// </summary>
    public List<string>? AllowClients { get; set; }

    /// <summary>Client networks refused even when <see cref="AllowClients"/> matches (<c>denyClients</c>). Defaults to none.</summary>
    public List<string> DenyClients { get; set; } = new();

    /// <summary>Per-client rate limiting (<c>rateLimit</c>). Defaults to off.</summary>
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>
    /// TCP, DoT and DoH connections one client address may hold open at once (<c>maxConnectionsPerClient</c>);
    /// a connection over it is closed at once and counted. 0 means no cap. Defaults to 64.
    /// </summary>
    public int MaxConnectionsPerClient { get; set; } = 64;

    /// <summary>
    /// Time one write of answers to a TCP or DoT client may take before the connection is closed as not reading
    /// (<c>clientWriteTimeoutMs</c>), in milliseconds. Defaults to 5,000.
    /// </summary>
    public int ClientWriteTimeoutMs { get; set; } = 5_000;

    /// <summary>
    /// Answer bytes one TCP or DoT connection may have waiting to be written (<c>maxBufferedAnswerBytes</c>); a
    /// client that pipelines queries without reading the answers is closed when its answers pass it. In bytes.
    /// Defaults to 262,144 (256 KiB).
    /// </summary>
    public int MaxBufferedAnswerBytes { get; set; } = 256 * 1024;

    /// <summary>DNS-over-TLS listeners on host sockets (<c>listenTls</c>, RFC 7858), "ip:port". Need <see cref="CertFile"/>. Defaults to none.</summary>
    public List<string> ListenTls { get; set; } = new();

    /// <summary>
    /// DNS-over-TLS on the TUN (<c>virtualTls</c>). Defaults to 10.30.30.30:853 and [fd00:30::30]:853 when the TUN
    /// is enabled, <c>virtual:</c> is absent and a certificate is configured; none otherwise.
    /// </summary>
    public List<string>? VirtualTls { get; set; }

    /// <summary>DNS-over-HTTPS listeners on host sockets (<c>listenHttps</c>, RFC 8484, path /dns-query). Need <see cref="CertFile"/>. Defaults to none.</summary>
    public List<string> ListenHttps { get; set; } = new();

    /// <summary>
    /// DNS-over-HTTPS on the TUN (<c>virtualHttps</c>). Defaults to 10.30.30.30:443 and [fd00:30::30]:443 when the
    /// TUN is enabled, <c>virtual:</c> is absent and a certificate is configured; none otherwise.
    /// </summary>
    public List<string>? VirtualHttps { get; set; }

    /// <summary>
    /// PEM certificate chain for the DoT and DoH listeners (<c>certFile</c>, relative to gateway.yaml). Re-read when
    /// the file changes, so a renewed certificate (certbot) is served without a restart. Defaults to none.
    /// </summary>
    public string? CertFile { get; set; }

    /// <summary>
    /// PEM private key of <see cref="CertFile"/> (<c>keyFile</c>). Security: refused when readable by group or
    /// others, as ssh refuses a private key. Defaults to none.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// Plain DNS servers ("ip" or "ip:port", port 53 by default) that resolve the host names of upstream URLs
    /// (<c>bootstrap</c>), re-asked when the answer's TTL runs out. Never the gateway itself. Defaults to none:
    /// the system resolver.
    /// </summary>
    public List<string> Bootstrap { get; set; } = new();
    /// <summary>Blocklist subscriptions (<c>lists:</c>), in order.</summary>
    public List<ListOptions> Lists { get; set; } = new();

    /// <summary>Per-client policy: named client groups (<c>clients:</c>); the most specific matching network wins.</summary>
    public Dictionary<string, ClientGroupOptions> Clients { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Local records in zone-file presentation form, as unbound's <c>local-data</c> writes them (TTL and class
    /// optional; TTL defaults to 3600): <c>"nas.home.test 300 A 192.168.1.10"</c>. Answered authoritatively.
    /// </summary>
    public List<string> Records { get; set; } = new();

    /// <summary>
    /// How blocked names are answered: <c>nxdomain</c> (the default), <c>nullIp</c> (0.0.0.0 / ::, NODATA for
    /// other types), <c>refused</c>, or <c>customIp</c> (the addresses of <see cref="BlockingIps"/>).
    /// </summary>
    public string BlockingMode { get; set; } = "nxdomain";

    /// <summary>For <c>blockingMode: customIp</c>: the IPv4 and/or IPv6 addresses blocked names resolve to.</summary>
    public List<string> BlockingIps { get; set; } = new();

    /// <summary>TTL of blocked answers (the A/AAAA records, or the negative-caching time), in seconds. Defaults to 60.</summary>
    public int BlockedTtl { get; set; } = 60;

    /// <summary>The query log file (<c>queryLog:</c>); absent: no file (the admin API's in-memory log still works).</summary>
    public QueryLogOptions? QueryLog { get; set; }

    /// <summary>dnstap output (<c>dnstap:</c>); absent: off.</summary>
    public DnstapOptions? Dnstap { get; set; }

    /// <summary>
    /// Where downloaded lists are kept so that a restart without network still blocks, relative to gateway.yaml's
    /// folder. Defaults to <c>$STATE_DIRECTORY</c> (systemd), else <c>/var/lib/gateway</c> when writable (root),
    /// else <c>$XDG_STATE_HOME/gateway</c> or <c>~/.local/state/gateway</c>.
    /// </summary>
    public string? StateDirectory { get; set; }
}
