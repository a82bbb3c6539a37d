// One copy of "where the gateway keeps what survives a restart": linked into host/ (its start-up JIT profile) and
// plugins/dns-dot/ (list copies, the compiled-script cache), so both agree on the folder. Each assembly gets its own
// internal copy, named in that assembly's namespace (GATEWAY_DNSDOT picks dns-dot's; see src/Shared/Epoll).
#if GATEWAY_DNSDOT
namespace Gateway.Plugins.DnsDot.Lists;
#else
namespace Gateway.Host.Runtime;
#endif

/// <summary>
/// The gateway's state folder: systemd's <c>$STATE_DIRECTORY</c> (StateDirectory= in the unit), else
/// <c>/var/lib/gateway</c> for root (the FHS place for a service's state), else the XDG state folder of the user
/// running the gateway (<c>$XDG_STATE_HOME/gateway</c> or <c>~/.local/state/gateway</c>). Each part keeps a
/// subfolder of its own in it.
/// </summary>
internal static class GatewayStateRoot
{
    /// <summary>The folder (not created here).</summary>
    public static string Resolve()
    {
        string? systemd = Environment.GetEnvironmentVariable("STATE_DIRECTORY");
        if (!string.IsNullOrWhiteSpace(systemd))
        {
            // systemd lists one folder per StateDirectory= entry, separated by ':'.
            return systemd.Split(':')[0];
        }

        if (OperatingSystem.IsLinux() && Environment.UserName == "root")
        {
            return "/var/lib/gateway";
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string root = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".local", "state");
        return Path.Combine(root, "gateway");
    }
}
