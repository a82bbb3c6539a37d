namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// <c>dns-dot.queryLog</c>: one JSON line per answered query (time, client, transport, name, type, rcode,
/// answers, reason, upstream, latencyMs), written off the query path.
/// </summary>
internal sealed class QueryLogOptions
{
    /// <summary>The log file, relative to gateway.yaml's folder. Required to turn the file log on.</summary>
    public string? Path { get; set; }

    /// <summary>The file is rotated (renamed to <c>query.log.1</c>, …) when it reaches this size, in MiB. Defaults to 100.</summary>
    public int MaxSizeMB { get; set; } = 100;

    /// <summary>Rotated files kept; older ones are deleted. Defaults to 5.</summary>
    public int Keep { get; set; } = 5;

    /// <summary>
    /// Anonymise client addresses in the file, the in-memory query log and the statistics: IPv4 keeps its /24
    /// (192.168.1.0), IPv6 its /48. Defaults to false. Privacy: turn it on when the log leaves the machine.
    /// </summary>
    public bool Anonymize { get; set; }
}
