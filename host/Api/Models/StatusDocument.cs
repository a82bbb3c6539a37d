namespace Gateway.Host.Api.Models;

/// <summary><c>GET /api/v1/status</c>: the gateway as a whole (docs/api.md).</summary>
/// <param name="Version">The gateway's version (informational, with the commit when built from git).</param>
/// <param name="StartedAt">When the gateway started.</param>
/// <param name="UptimeSeconds">Seconds since <paramref name="StartedAt"/>.</param>
/// <param name="ConfigFile">The config file (absolute path).</param>
/// <param name="Ready">True once every plugin was started or reported failed (as /readyz).</param>
/// <param name="LastReload">The last config reload, or null when none happened since start.</param>
/// <param name="Listeners">Every endpoint the gateway serves: each plugin's and the admin listener.</param>
internal sealed record StatusDocument(
    string Version,
    DateTime StartedAt,
    double UptimeSeconds,
    string ConfigFile,
    bool Ready,
    ReloadDocument? LastReload,
    IReadOnlyList<ListenerDocument> Listeners);
