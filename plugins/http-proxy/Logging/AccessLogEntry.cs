namespace Gateway.Plugins.HttpProxy.Logging;

/// <summary>One access log line's facts: an HTTP request, a CONNECT tunnel or a SOCKS connection.</summary>
internal readonly record struct AccessLogEntry
{
    /// <summary>When the request arrived (its head complete, or the SOCKS request read).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>From arrival to the last byte answered (a tunnel: until it closed).</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>The client's address (no port, as squid logs it).</summary>
    public required string Client { get; init; }

    /// <summary>The authenticated user, or null.</summary>
    public string? User { get; init; }

    /// <summary>squid's result code: TCP_MISS, TCP_HIT, TCP_CF_HIT (collapsed forwarding), TCP_REFRESH_UNMODIFIED, TCP_TUNNEL, TCP_DENIED, NONE.</summary>
    public required string Result { get; init; }

    /// <summary>The HTTP status sent (200 for an open tunnel; a SOCKS failure's nearest status: 403, 502, 504), or 0 when none was sent.</summary>
    public required int Status { get; init; }

    /// <summary>Bytes sent to the client for this request (head and body; a tunnel: everything relayed to it).</summary>
    public required long Bytes { get; init; }

    /// <summary>GET, CONNECT, ... or SOCKS5 / SOCKS4 for a SOCKS connection; "-" when the request could not be read.</summary>
    public required string Method { get; init; }

    /// <summary>The absolute URL, or host:port for CONNECT and SOCKS; "-" when unknown.</summary>
    public required string Url { get; init; }

    /// <summary>Where it went: the origin's host, or null when nothing was fetched (cache hit, refusal).</summary>
    public string? Peer { get; init; }

    /// <summary>The parent proxy it went through (host:port), or null when it went direct or nowhere.</summary>
    public string? Parent { get; init; }

    /// <summary>http or socks5 / socks4.</summary>
    public required string Protocol { get; init; }

    /// <summary>The SOCKS reply code (RFC 1928 §6), or -1 for HTTP.</summary>
    public int SocksReply { get; init; } = -1;

    public AccessLogEntry()
    {
    }
}
