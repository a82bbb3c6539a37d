namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// Per-client rate limiting (key <c>dns-dot.rateLimit</c>): a token bucket per client network (the client's
/// address cut to <see cref="Ipv4Prefix"/> or <see cref="Ipv6Prefix"/> bits), held in a table of bounded size.
/// Over the limit, a UDP client gets an empty answer with TC=1 every <see cref="Slip"/>-th time (so a real client
/// behind a spoofed flood can still get through over TCP, as BIND's and Knot's RRL "slip") and nothing otherwise;
/// a TCP, DoT or DoH client gets REFUSED. A record: a reload compares it to decide whether buckets are kept.
/// </summary>
/// <remarks>
/// Security: without a limit, anyone allowed by <c>allowClients</c> can make the gateway send as many queries
/// upstream as they like, and spoofed UDP queries turn it into a reflector. A limit is off by default because a
/// LAN resolver behind NAT (one address for a whole household) needs a generous one; set it when the gateway
/// faces clients you do not control.
/// </remarks>
internal sealed record RateLimitOptions
{
    /// <summary>Queries per second allowed per client network (the bucket's refill rate). 0 turns limiting off. Defaults to 0.</summary>
    public int Qps { get; set; }

    /// <summary>Queries a client network may send at once above <see cref="Qps"/> (the bucket size). 0 means the same as <see cref="Qps"/>. Defaults to 0.</summary>
    public int Burst { get; set; }

    /// <summary>IPv4 clients share a bucket per network of this many bits (0–32). Defaults to 24 (a /24 per bucket, as BIND's RRL).</summary>
    public int Ipv4Prefix { get; set; } = 24;

    /// <summary>IPv6 clients share a bucket per network of this many bits (0–64). Defaults to 56 (a typical customer allocation).</summary>
    public int Ipv6Prefix { get; set; } = 56;

    /// <summary>
    /// Over the limit, every <c>slip</c>-th UDP query gets an empty TC=1 answer (the client retries over TCP) and
    /// the others are dropped; 0 drops them all, 1 truncates them all. Defaults to 2 (BIND's and Knot's default).
    /// </summary>
    public int Slip { get; set; } = 2;

    /// <summary>
    /// Client networks tracked at once (the table's size, rounded up to a power of two). When it is full the bucket
    /// seen longest ago is reused, so memory stays bounded under a flood from many (spoofed) sources. Defaults to 65536
    /// (about 2.5 MiB).
    /// </summary>
    public int MaxClients { get; set; } = 65_536;
}
