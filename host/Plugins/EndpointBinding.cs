using Gateway.Sdk.Networking;

namespace Gateway.Host.Plugins;

/// <summary>One endpoint a plugin serves, for the startup summary: "dns-dot udp 127.0.0.1:5353 (host socket)".</summary>
internal sealed record EndpointBinding(string PluginId, EndpointKind Kind, NetEndpoint Endpoint, string Protocol)
{
    public override string ToString() =>
        $"{PluginId,-12} {Protocol} {Endpoint} ({(Kind == EndpointKind.Virtual ? "virtual" : "host socket")})";
}
