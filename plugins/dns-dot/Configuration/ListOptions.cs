namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// One blocklist subscription under <c>dns-dot.lists</c>:
/// <c>{ name: ads, url: https://example/list.txt, kind: block, format: adblock, refresh: 24h }</c>.
/// </summary>
internal sealed class ListOptions
{
    /// <summary>
    /// The list's name: how <c>clients:</c> groups, rule scripts (<c>BlockList("ads")</c>), the query log
    /// (<c>list:ads</c>) and metrics refer to it. Required; letters, digits, '-', '_' and '.'.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>
    /// An http(s) URL to download the list from, through the gateway's own protected sockets (never through its
    /// TUN). Either <see cref="Url"/> or <see cref="File"/>. Security: the list decides which names resolve;
    /// prefer https, as a plain http list can be changed on the way.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>A local file (relative to gateway.yaml's folder), watched: a saved edit applies within about a second.</summary>
    public string? File { get; set; }

    /// <summary><c>block</c> (the default) or <c>allow</c>. An allow entry beats a block entry of any list.</summary>
    public string Kind { get; set; } = "block";

    /// <summary>
    /// <c>hosts</c> ("0.0.0.0 ads.example": exactly the names listed, as AdGuard Home and Pi-hole read hosts
    /// files), <c>domains</c> (one name per line: the name and its subdomains) or <c>adblock</c> (the DNS subset:
    /// <c>||example.com^</c>, <c>@@||example.com^</c>, <c>|example.com^</c>, <c>!</c> comments, <c>*</c> in the
    /// leftmost label). Defaults to <c>hosts</c>. Lines a format does not understand are counted and skipped.
    /// </summary>
    public string Format { get; set; } = "hosts";

    /// <summary>
    /// How often a <see cref="Url"/> list is downloaded again: a duration such as <c>90s</c>, <c>10m</c>, <c>24h</c>
    /// or <c>7d</c>. Defaults to 24h; at least 10s. A failed download is retried sooner (1 min, doubling up to this
    /// interval) and the last good copy stays in use.
    /// </summary>
    public string Refresh { get; set; } = "24h";

    /// <summary>Largest download accepted, in MiB; a bigger list is refused and the last good copy kept. Defaults to 64.</summary>
    public int MaxSizeMB { get; set; } = 64;

    /// <summary>Time a download may take end to end, in seconds. Defaults to 60.</summary>
    public int TimeoutSeconds { get; set; } = 60;
}
