namespace Gateway.Plugins.HttpProxy.Logging;

/// <summary>The access log (<c>http-proxy.accessLog</c>): one line per request, CONNECT tunnel and SOCKS connection.</summary>
internal sealed class AccessLogOptions
{
    /// <summary>
    /// The file (<c>path</c>); relative to the config file's folder. Defaults to none (no access log). Security: the
    /// file holds client addresses, user names and URLs (never passwords or query-less secrets are removed: URLs are
    /// logged as requested), so it is created with mode 0600.
    /// </summary>
    public string? Path { get; init; }

    /// <summary>
    /// The line format (<c>format</c>): <c>squid</c> (squid's native access.log, what squid's log analysers read),
    /// <c>combined</c> (Apache/nginx Combined Log Format) or <c>json</c> (one JSON object per line). Defaults to squid.
    /// </summary>
    public AccessLogFormat Format { get; init; } = AccessLogFormat.Squid;

    /// <summary>The size at which the file is rotated (<c>maxSizeMB</c>), in MiB. Defaults to 100.</summary>
    public long MaxSizeBytes { get; init; } = 100L * 1024 * 1024;

    /// <summary>Rotated files kept (<c>keep</c>): path.1 (newest) to path.N. Defaults to 5.</summary>
    public int Keep { get; init; } = 5;

    /// <summary>True when a path is set.</summary>
    public bool Enabled => Path is not null;
}

/// <summary>Access log line formats.</summary>
internal enum AccessLogFormat
{
    /// <summary>squid's native format: <c>time.ms elapsed client code/status bytes method URL user hierarchy/peer type</c>.</summary>
    Squid,

    /// <summary>Combined Log Format: <c>client - user [time] "request" status bytes "referer" "user-agent"</c>.</summary>
    Combined,

    /// <summary>One JSON object per line.</summary>
    Json,
}
