namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// Where dns-dot keeps what must survive a restart (downloaded lists, the compiled-script cache):
/// <c>stateDirectory:</c> when set, else <c>dns-dot</c> in the gateway's state folder (<see cref="GatewayStateRoot"/>:
/// systemd's <c>$STATE_DIRECTORY</c>, <c>/var/lib/gateway</c> for root, else the user's XDG state folder).
/// </summary>
internal static class StateDirectory
{
    /// <summary>The folder for <paramref name="configured"/> (relative to <paramref name="configDirectory"/>) or the default.</summary>
    public static string Resolve(string? configured, string configDirectory) =>
        !string.IsNullOrWhiteSpace(configured) ? Path.GetFullPath(configured, configDirectory) : Path.Combine(GatewayStateRoot.Resolve(), "dns-dot");
}
