using Gateway.Sdk.Networking;

namespace Gateway.Host.Configuration;

/// <summary>The admin listener (<c>host.admin</c>).</summary>
internal sealed class AdminOptions
{
    /// <summary>
    /// Where to serve GET /healthz, /readyz and /metrics (Prometheus text), as "ip:port". Absent: no admin listener.
    /// Security: the endpoints are unauthenticated; keep this on loopback or a management network.
    /// </summary>
    public NetEndpoint? Listen { get; set; }
}
