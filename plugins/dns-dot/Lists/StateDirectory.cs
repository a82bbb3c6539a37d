namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// Where dns-dot keeps what must survive a restart (downloaded lists): <c>stateDirectory:</c> when set, else
/// systemd's <c>$STATE_DIRECTORY</c> (StateDirectory= in the unit), else <c>/var/lib/gateway</c> for root (the
/// FHS place for a service's state), else the XDG state folder of the user running the gateway.
/// </summary>
internal static class StateDirectory
{
    /// <summary>The folder for <paramref name="configured"/> (relative to <paramref name="configDirectory"/>) or the default.</summary>
    public static string Resolve(string? configured, string configDirectory)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured, configDirectory);
        }

        string? systemd = Environment.GetEnvironmentVariable("STATE_DIRECTORY");
        if (!string.IsNullOrWhiteSpace(systemd))
        {
            // systemd lists one folder per StateDirectory= entry, separated by ':'.
            return Path.Combine(systemd.Split(':')[0], "dns-dot");
        }

        if (OperatingSystem.IsLinux() && Environment.UserName == "root")
        {
            return "/var/lib/gateway/dns-dot";
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".local", "state");
        return Path.Combine(root, "gateway", "dns-dot");
    }
}
