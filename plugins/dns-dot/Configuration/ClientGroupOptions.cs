namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// A named group of clients under <c>dns-dot.clients</c>:
/// <c>kids: { networks: [192.168.1.64/27], lists: [ads, adult], upstream: filtered, blocking: true }</c>.
/// A client belongs to the group with the most specific matching network; a client in no group gets every list
/// and the default upstreams.
/// </summary>
internal sealed class ClientGroupOptions
{
    /// <summary>The group's client networks (CIDR, or a single address). Required.</summary>
    public List<string> Networks { get; set; } = new();

    /// <summary>
    /// The <c>lists:</c> (by name) that apply to these clients, block and allow lists alike. Absent: every list;
    /// an empty list: none.
    /// </summary>
    public List<string>? Lists { get; set; }

    /// <summary>The upstream group (a key of <c>groups:</c>) that answers these clients. Absent: the default <c>upstreams:</c>.</summary>
    public string? Upstream { get; set; }

    /// <summary>Whether blocking (lists, and rule scripts' <c>Block</c>/<c>BlockList</c>) applies to these clients. Defaults to true.</summary>
    public bool Blocking { get; set; } = true;
}
