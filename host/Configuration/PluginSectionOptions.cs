using Gateway.Sdk.Networking;

namespace Gateway.Host.Configuration;

/// <summary>The keys of a plugin's section that the host reads itself (the rest belongs to the plugin).</summary>
internal sealed class PluginSectionOptions
{
    /// <summary>The section name, which is the plugin id.</summary>
    public required string Id { get; init; }

    /// <summary><c>listen:</c> (host sockets, UDP and TCP) then <c>virtual:</c> (TUN) endpoints, in file order.</summary>
    public List<ServiceEndpoint> Endpoints { get; } = [];

    /// <summary>Limits for this plugin's stream listeners: <c>maxConnections</c> and <c>idleTimeoutSeconds</c>, defaulting to <c>host.limits</c>.</summary>
    public required LimitsOptions Limits { get; init; }
}
