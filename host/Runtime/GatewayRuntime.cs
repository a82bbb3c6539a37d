using System.Collections;
using System.Diagnostics.Metrics;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Host.Plugins;
using Gateway.Host.Sockets;
using Gateway.Sdk.IO;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Runtime;

/// <summary>
/// The running gateway: the accepted configuration (live, reloaded on change), the virtual network, host sockets and
/// plugins. <see cref="Prepare"/> does everything that can fail because of the configuration (so <c>run</c> can exit 2
/// before anything starts, and <c>check</c> stops there); <see cref="StartAsync"/> starts the rest.
/// </summary>
internal sealed class GatewayRuntime : IAsyncDisposable
{
    /// <summary>The host's meter name; plugin meters are "Gateway.Plugins.&lt;id&gt;".</summary>
    public const string HostMeterName = "Gateway.Host";

    private readonly string _configPath;
    private readonly string _appDirectory;
    private readonly IDictionary? _environment;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TextWriter _stdout;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private GatewayConfigurationProvider? _provider;
    /// <summary>Quiet time after the last change of the config file before it is read again.</summary>
    private static readonly TimeSpan ConfigDebounce = TimeSpan.FromMilliseconds(300);

    private DebouncedFileWatcher? _configWatcher;
    private volatile bool _ready;

    public GatewayRuntime(string configPath, string appDirectory, ILoggerFactory loggerFactory, IDictionary? environment, TextWriter? stdout = null)
    {
        _configPath = Path.GetFullPath(configPath);
        _appDirectory = appDirectory;
        _environment = environment;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Gateway.Host");
        _stdout = stdout ?? Console.Out;
        HostMeter = new Meter(HostMeterName);
    }

    /// <summary>When <see cref="StartAsync"/> began (for the admin API's uptime).</summary>
    public DateTimeOffset StartedAt { get; private set; } = DateTimeOffset.UtcNow;

    /// <summary>The config file (absolute).</summary>
    public string ConfigPath => _configPath;

    /// <summary>The last reload's result (from a file change or the admin API); null before the first.</summary>
    public ReloadReport? LastReload { get; private set; }

    /// <summary>True once every plugin was started or reported failed (for /readyz).</summary>
    public bool IsReady => _ready;

    /// <summary>The accepted configuration.</summary>
    public GatewayConfig Config { get; private set; } = null!;

    /// <summary>The host's meter ("Gateway.Host").</summary>
    public Meter HostMeter { get; }

    /// <summary>What <see cref="Prepare"/> found worth saying but not refusing: sections for plugins that are not loaded.</summary>
    public IReadOnlyList<ConfigError> Warnings { get; private set; } = [];

    /// <summary>The plugins (after <see cref="Prepare"/>).</summary>
    public PluginManager Plugins { get; private set; } = null!;

    /// <summary>The TUN side, or its disabled variant (after <see cref="Prepare"/>).</summary>
    public IVirtualNetwork VirtualNetwork { get; private set; } = null!;

    /// <summary>
    /// Reads and validates the configuration, loads every plugin and runs their Validate. Throws
    /// <see cref="ConfigException"/> with every error. A section naming no loaded plugin is a warning (logged and kept
    /// in <see cref="Warnings"/>), the same at check, start and reload: plugin and section may be dropped in in either
    /// order, and the section applies as soon as a plugin with that id is loaded. <paramref name="beforeStart"/>: the
    /// plugins start right after (<c>gateway run</c>), so a plugin may leave to its start what the start repeats
    /// anyway (<see cref="Gateway.Sdk.Plugins.PluginValidationContext.BeforeStart"/>); false for <c>gateway check</c>.
    /// </summary>
    public void Prepare(bool beforeStart = false)
    {
        // Invalid host keys do not stop here: the plugins still validate their sections, so one run of
        // `gateway check` lists every error of the file.
        var errors = new List<ConfigError>();
        Config = GatewayConfigReader.LoadWithErrors(_configPath, _appDirectory, _environment, errors);
        IConfigurationRoot live = GatewayConfigurationProvider.Build(Config.Document.Data, out GatewayConfigurationProvider provider);
        _provider = provider;
        VirtualNetwork = VirtualNetworkFactory.Create(Config.Host.Tun, Config.Host.Limits, _loggerFactory, HostMeter);
        Plugins = new PluginManager(Config, live, _loggerFactory, HostMeter, VirtualNetwork, new HostSockets(_loggerFactory, HostMeter));
        Plugins.LoadAll();
        foreach (ConfigError error in Plugins.ValidateAll(Config, beforeStart))
        {
            if (!errors.Contains(error))
            {
                errors.Add(error);
            }
        }

        Warnings = Plugins.UnknownSections(Config);
        foreach (ConfigError warning in Warnings)
        {
            RuntimeLog.UnknownSection(_logger, warning.ToString());
        }

        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
    }

    /// <summary>Starts the virtual network and every plugin, prints the startup summary and "gateway ready", then follows file changes.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        StartedAt = DateTimeOffset.UtcNow;
        RuntimeLog.Starting(_logger, typeof(GatewayRuntime).Assembly.GetName().Version?.ToString() ?? "?", _configPath);
        await VirtualNetwork.StartAsync(cancellationToken).ConfigureAwait(false);
        await Plugins.StartAllAsync(cancellationToken).ConfigureAwait(false);

        // Watch before announcing readiness, so a change made right after "gateway ready" is not missed.
        Plugins.StartWatching();
        _configWatcher = new DebouncedFileWatcher(ConfigDebounce, () => _ = ReloadAsync());
        string configName = Path.GetFileName(_configPath);
        _configWatcher.Watch(Path.GetDirectoryName(_configPath)!, nameFilter: name => string.Equals(name, configName, StringComparison.Ordinal));
        PrintSummary();
        _ready = true;
        await _stdout.WriteLineAsync("gateway ready").ConfigureAwait(false);
        await _stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
        StartupJitProfile.Stop();
    }

    /// <summary>Reads the config file again; applies it only if it is valid in full (host keys and every plugin's Validate).</summary>
    public async Task<bool> ReloadAsync() => (await ReloadAsync(ReloadReport.FileTrigger).ConfigureAwait(false)).Ok;

    /// <summary>
    /// <see cref="ReloadAsync()"/> that says why it ran (<paramref name="trigger"/>: "file", "api") and returns what
    /// happened; the result is also kept as <see cref="LastReload"/> for the admin API and the console page.
    /// </summary>
    public async Task<ReloadReport> ReloadAsync(string trigger)
    {
        ReloadReport report = await ReloadCoreAsync(trigger).ConfigureAwait(false);
        LastReload = report;
        return report;
    }

    private async Task<ReloadReport> ReloadCoreAsync(string trigger)
    {
        await _reloadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            GatewayConfig candidate;
            try
            {
                candidate = GatewayConfigReader.Load(_configPath, _appDirectory, _environment);
                if (candidate.Document.Data.Count == 0)
                {
                    // An editor or a copy may truncate the file before writing it; an empty file is never taken as "no config".
                    throw new ConfigException(new ConfigError(_configPath, 1, 1, string.Empty, "the file is empty (still being written?)"));
                }

                List<ConfigError> errors = Plugins.ValidateAll(candidate);
                if (errors.Count > 0)
                {
                    throw new ConfigException(errors);
                }
            }
            catch (ConfigException ex)
            {
                foreach (ConfigError error in ex.Errors)
                {
                    RuntimeLog.ReloadRejected(_logger, error.ToString());
                }

                return new ReloadReport(DateTimeOffset.UtcNow, trigger, false, ex.Errors);
            }

            foreach (ConfigError warning in Plugins.UnknownSections(candidate))
            {
                RuntimeLog.UnknownSection(_logger, warning.ToString());
            }

            ReportRestartNeeded(Config.Host, candidate.Host);
            Config = candidate;
            _provider!.Apply(candidate.Document.Data);
            await Plugins.ApplyConfigAsync(candidate).ConfigureAwait(false);
            RuntimeLog.Reloaded(_logger, _configPath);
            return new ReloadReport(DateTimeOffset.UtcNow, trigger, true, []);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Stops everything: file watchers, plugins (their sockets), the virtual network.</summary>
    public async Task StopAsync()
    {
        RuntimeLog.Stopping(_logger);
        _ready = false;
        _configWatcher?.Dispose();
        _configWatcher = null;
        if (Plugins is not null)
        {
            await Plugins.DisposeAsync().ConfigureAwait(false);
        }

        if (VirtualNetwork is not null)
        {
            await VirtualNetwork.DisposeAsync().ConfigureAwait(false);
        }

        RuntimeLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        _configWatcher?.Dispose();
        if (Plugins is not null)
        {
            await Plugins.DisposeAsync().ConfigureAwait(false);
        }

        HostMeter.Dispose();
    }

    private void PrintSummary()
    {
        var lines = new List<string>();
        foreach (PluginHandle plugin in Plugins.Plugins)
        {
            if (plugin.Context is { } context)
            {
                IReadOnlyList<EndpointBinding> bindings = context.Bindings;
                if (bindings.Count == 0)
                {
                    lines.Add($"  {plugin.Id,-12} running, no endpoints");
                }

                foreach (EndpointBinding binding in bindings)
                {
                    lines.Add("  " + binding);
                }
            }
            else
            {
                lines.Add($"  {plugin.Id,-12} NOT SERVING: {plugin.Failure}");
                RuntimeLog.PluginNotServing(_logger, plugin.Id, plugin.Failure ?? "unknown");
            }
        }

        if (Config.Host.Admin.Listen is { } admin)
        {
            lines.Add($"  {"admin",-12} http {admin} (/healthz /readyz /metrics /api/v1, page at /{(Config.Host.Admin.Token is null ? string.Empty : "; token required")})");
        }

        _stdout.WriteLine("listening:" + Environment.NewLine + string.Join(Environment.NewLine, lines));
    }

    private void ReportRestartNeeded(HostOptions running, HostOptions next)
    {
        if (!running.Plugins.SequenceEqual(next.Plugins))
        {
            RuntimeLog.RestartNeeded(_logger, "plugins");
        }

        if (running.Tun.Enabled != next.Tun.Enabled || running.Tun.Name != next.Tun.Name || running.Tun.Mtu != next.Tun.Mtu || !running.Tun.Addresses.SequenceEqual(next.Tun.Addresses))
        {
            RuntimeLog.RestartNeeded(_logger, "tun");
        }

        if (!Nullable.Equals(running.Admin.Listen, next.Admin.Listen))
        {
            RuntimeLog.RestartNeeded(_logger, "admin");
        }

        if (!Nullable.Equals(running.Statsd.Address, next.Statsd.Address))
        {
            RuntimeLog.RestartNeeded(_logger, "statsd");
        }
    }
}
