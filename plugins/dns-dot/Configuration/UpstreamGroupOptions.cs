namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>A named group of upstreams (split DNS: rules send names to it with <c>Forward(name)</c>).</summary>
internal sealed class UpstreamGroupOptions
{
    /// <summary>The load-balancing policy of the group. Defaults to the plugin's <c>policy</c>.</summary>
    public string? Policy { get; set; }

    /// <summary>The group's upstreams. At least one.</summary>
    public List<UpstreamOptions> Upstreams { get; set; } = new();
}
