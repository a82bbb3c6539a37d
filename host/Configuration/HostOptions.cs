using Microsoft.Extensions.Logging;

namespace Gateway.Host.Configuration;

/// <summary>The <c>host:</c> section of gateway.yaml (DESIGN §5).</summary>
internal sealed class HostOptions
{
    /// <summary>
    /// Plugin folders, each holding one sub-folder per plugin. Relative paths resolve against the config file's
    /// folder (already resolved here). Defaults to [&lt;app&gt;/plugins], the folder next to the gateway executable.
    /// </summary>
    public List<string> Plugins { get; set; } = [];

    /// <summary>Default of <see cref="DrainTimeoutSeconds"/>.</summary>
    public const int DefaultDrainTimeoutSeconds = 30;

    /// <summary>
    /// How long a replaced or removed plugin's open connections may finish (<c>host.drainTimeoutSeconds</c>), in
    /// seconds, while the new version already serves new ones; what is still open then is closed. 0 closes at once.
    /// Defaults to 30. Range 0–3600.
    /// </summary>
    public int DrainTimeoutSeconds { get; set; } = DefaultDrainTimeoutSeconds;

    /// <summary>The TUN device (<c>host.tun</c>); disabled by default.</summary>
    public TunOptions Tun { get; set; } = new();

    /// <summary>The admin listener (<c>host.admin</c>); off by default.</summary>
    public AdminOptions Admin { get; set; } = new();

    /// <summary>Statsd export (<c>host.statsd</c>); off by default.</summary>
    public StatsdOptions Statsd { get; set; } = new();

    /// <summary>OTLP metrics export (<c>host.otlp</c>); off by default.</summary>
    public OtlpOptions Otlp { get; set; } = new();

    /// <summary>Connection limits for host-socket stream listeners (<c>host.limits</c>).</summary>
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>
    /// The minimum log level (<c>host.logLevel</c>: error, warn, info or debug); the command line's --verbosity
    /// wins when given. Defaults to info.
    /// </summary>
    public LogLevel? LogLevel { get; set; }
}
