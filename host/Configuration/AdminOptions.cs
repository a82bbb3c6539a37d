using Gateway.Sdk.Networking;

namespace Gateway.Host.Configuration;

/// <summary>The admin listener (<c>host.admin</c>): /healthz, /readyz, /metrics, the JSON API and the console page.</summary>
internal sealed class AdminOptions
{
    /// <summary>
    /// Where to serve the admin listener, as "ip:port". Absent: no admin listener.
    /// Security: off loopback a <see cref="Token"/> is required (a config error otherwise), since /metrics, the API
    /// and the page show client addresses and names and the API can reload the config.
    /// </summary>
    public NetEndpoint? Listen { get; set; }

    /// <summary>
    /// The bearer token every request but /healthz and /readyz must carry (<c>Authorization: Bearer &lt;token&gt;</c>,
    /// or the page's cookie), from <c>host.admin.token</c> or the first line of <c>host.admin.tokenFile</c>. Null: no
    /// token (allowed on loopback only). At least 16 characters. Security: prefer <c>tokenFile</c> (mode 0600, as ssh
    /// wants a private key) over a token in gateway.yaml.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>The file the token was read from (<c>host.admin.tokenFile</c>, absolute), or null.</summary>
    public string? TokenFile { get; set; }

    /// <summary>
    /// Host names, besides "localhost" and the listen address, that requests may name in their Host header
    /// (<c>host.admin.allowedHosts</c>), e.g. the name a reverse proxy or Prometheus uses. Empty by default.
    /// Security: any other name is refused with 421 — a web page a browser loaded from elsewhere cannot reach the
    /// listener through a DNS name that it re-points to 127.0.0.1 (DNS rebinding).
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];
}
