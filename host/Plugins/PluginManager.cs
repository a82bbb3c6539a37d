using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Host.Api;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Host.Sockets;
using Gateway.Sdk.IO;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Plugins;

/// <summary>
/// Loads, validates, starts, stops and unloads the plugins of every plugin folder (DESIGN §4), and follows the folders
/// while running: a new sub-folder is loaded and started, a changed one is stopped, unloaded and loaded again, a removed
/// one is stopped and unloaded (debounced). Each unload is verified with a weak reference and GC; a survivor is
/// reported as a leak. A plugin that fails anywhere is logged with its id; the others keep serving.
/// </summary>
internal sealed class PluginManager : IAsyncDisposable
{
    /// <summary>Quiet time after the last file change before a plugin folder is rescanned.</summary>
    public static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan UnloadVerifyTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A draining version whose last datagram is this old has answered what it will: datagram work has no end marker
    /// (not every datagram gets a reply), so a short quiet period stands for "in flight": a DNS forward or a proxied
    /// UDP exchange completes well within it.
    /// </summary>
    private static readonly TimeSpan DatagramDrainQuiet = TimeSpan.FromSeconds(2);

    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Meter _hostMeter;
    private readonly IVirtualNetwork _virtualNetwork;
    private readonly HostSockets _sockets;
    private readonly IConfiguration _liveConfiguration;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, PluginHandle> _plugins = new(StringComparer.Ordinal);
    private readonly List<Task> _verifications = [];
    private readonly DebouncedFileWatcher _watcher;
    private GatewayConfig _config;
    private volatile bool _disposing;
    private CancellationToken _shutdown;

    public PluginManager(GatewayConfig config, IConfiguration liveConfiguration, ILoggerFactory loggerFactory, Meter hostMeter, IVirtualNetwork virtualNetwork, HostSockets sockets)
    {
        _config = config;
        _liveConfiguration = liveConfiguration;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Gateway.Host.Plugins");
        _hostMeter = hostMeter;
        _virtualNetwork = virtualNetwork;
        _sockets = sockets;
        _watcher = new DebouncedFileWatcher(Debounce, () => _ = RescanSafeAsync());
    }

    /// <summary>The admin API routes the running plugins mapped (served by the admin listener).</summary>
    public PluginApiRoutes ApiRoutes { get; } = new();

    /// <summary>The gateway's name resolver (a plugin may provide it; the system resolver otherwise).</summary>
    public GatewayNameResolver NameResolver { get; } = new();

    /// <summary>Every plugin folder seen, loaded or not.</summary>
    public IReadOnlyList<PluginHandle> Plugins
    {
        get
        {
            lock (_plugins)
            {
                return _plugins.Values.OrderBy(p => p.Id, StringComparer.Ordinal).ToArray();
            }
        }
    }

    /// <summary>Loads every plugin folder (without starting anything). Failures are logged and recorded per folder.</summary>
    public void LoadAll()
    {
        foreach (string folder in PluginFolders())
        {
            LoadFolder(folder);
        }
    }

    /// <summary>The warnings plugins reported in the last <see cref="ValidateAll"/> (gateway check prints them).</summary>
    public List<ConfigError> Warnings { get; } = new();

    /// <summary>
    /// Runs every loaded plugin's Validate against <paramref name="config"/>; <paramref name="beforeStart"/> when the
    /// plugins start right after (<see cref="PluginValidationContext.BeforeStart"/>), false for check and reloads.
    /// </summary>
    public List<ConfigError> ValidateAll(GatewayConfig config, bool beforeStart = false)
    {
        Warnings.Clear();
        var errors = new List<ConfigError>();
        foreach (PluginHandle handle in Plugins)
        {
            if (handle.Plugin is not null)
            {
                errors.AddRange(Validate(config, handle.Plugin, handle.Folder, beforeStart));
            }
        }

        return errors;
    }

    /// <summary>
    /// Top-level sections that name no loaded plugin (a typo, or a plugin not dropped in yet): warnings, never errors,
    /// at check, start and reload alike, so that a plugin and its section can arrive in either order.
    /// </summary>
    public List<ConfigError> UnknownSections(GatewayConfig config)
    {
        string[] known = Plugins.Where(p => p.Plugin is not null).Select(p => p.Id).ToArray();
        var errors = new List<ConfigError>();
        foreach (string id in config.Sections.Keys)
        {
            if (!known.Contains(id, StringComparer.OrdinalIgnoreCase))
            {
                string list = known.Length == 0 ? "none" : string.Join(", ", known);
                errors.Add(config.Document.ErrorAt(id, $"no loaded plugin has the id '{id}' (loaded: {list}); the section is ignored until a plugin with that id is loaded — check the spelling or the plugin folders in host.plugins"));
            }
        }

        return errors;
    }

    /// <summary>Starts every loaded plugin that is not running; failures are logged and isolated.</summary>
    public async Task StartAllAsync(CancellationToken cancellationToken)
    {
        _shutdown = cancellationToken;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (PluginHandle handle in Plugins)
            {
                if (handle.Plugin is not null && !handle.Running)
                {
                    await StartAsync(handle, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Follows every existing plugin folder for drop-in changes.</summary>
    public void StartWatching()
    {
        foreach (string root in _config.Host.Plugins)
        {
            if (!Directory.Exists(root))
            {
                continue;
            }

            _watcher.Watch(root, includeSubdirectories: true);
        }
    }

    /// <summary>
    /// Makes an accepted configuration current: plugins see the new values through their reload token; a plugin whose
    /// host-read keys (listen, virtual, limits) changed is restarted so its sockets match the file; a plugin that had
    /// failed to start is started again.
    /// </summary>
    public async Task ApplyConfigAsync(GatewayConfig config)
    {
        GatewayConfig old = _config;
        _config = config;
        await _gate.WaitAsync(_shutdown).ConfigureAwait(false);
        try
        {
            foreach (PluginHandle handle in Plugins)
            {
                if (!handle.Running)
                {
                    // A plugin that failed to start gets another chance with the new file (the operator may have fixed it).
                    if (handle.Plugin is not null)
                    {
                        await StartAsync(handle, _shutdown).ConfigureAwait(false);
                    }

                    continue;
                }

                if (!SameHostKeys(old.SectionFor(handle.Id), config.SectionFor(handle.Id)))
                {
                    PluginsLog.Restarting(_logger, handle.Id);
                    await StopAsync(handle).ConfigureAwait(false);
                    await StartAsync(handle, _shutdown).ConfigureAwait(false);
                }
                else
                {
                    handle.Context!.PluginConfiguration.NotifyReload();
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Compares plugin folders with what is loaded and loads, replaces or unloads accordingly.</summary>
    public async Task RescanAsync()
    {
        await _gate.WaitAsync(_shutdown).ConfigureAwait(false);
        try
        {
            var present = new HashSet<string>(PluginFolders(), StringComparer.Ordinal);
            foreach (PluginHandle handle in Plugins)
            {
                if (!present.Contains(handle.Folder))
                {
                    PluginsLog.FolderChanged(_logger, "removed", handle.Folder);
                    lock (_plugins)
                    {
                        _plugins.Remove(handle.Folder);
                    }

                    // Stops accepting now; open connections finish (up to host.drainTimeoutSeconds), then it unloads.
                    handle.Context?.StopAccepting();
                    Track(DrainAndUnloadAsync(handle));
                }
                else if (Fingerprint(handle.Folder) is { } fingerprint && fingerprint != handle.Fingerprint && fingerprint != handle.RejectedFingerprint)
                {
                    PluginsLog.FolderChanged(_logger, "replaced", handle.Folder);
                    await ReplaceAsync(handle, fingerprint).ConfigureAwait(false);
                }
            }

            foreach (string folder in present)
            {
                bool known;
                lock (_plugins)
                {
                    known = _plugins.ContainsKey(folder);
                }

                if (!known)
                {
                    PluginsLog.FolderChanged(_logger, "new", folder);
                    await LoadAndStartAsync(folder).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops watching, stops every plugin (newest first) and unloads them.</summary>
    public async ValueTask DisposeAsync()
    {
        _watcher.Dispose();

        // Versions still draining after a swap are cut short and unloaded (they take the gate themselves).
        _disposing = true;
        await WhenUnloadsVerifiedAsync().ConfigureAwait(false);

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            PluginHandle[] all = Plugins.ToArray();
            for (int i = all.Length - 1; i >= 0; i--)
            {
                await StopAsync(all[i]).ConfigureAwait(false);
                lock (_plugins)
                {
                    _plugins.Remove(all[i].Folder);
                }

                Detach(all[i]);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Waits for the background unload verifications started so far (tests).</summary>
    public Task WhenUnloadsVerifiedAsync()
    {
        lock (_verifications)
        {
            return Task.WhenAll(_verifications.ToArray());
        }
    }

    private static bool SameHostKeys(PluginSectionOptions a, PluginSectionOptions b) =>
        a.Endpoints.SequenceEqual(b.Endpoints) &&
        a.Limits.MaxConnections == b.Limits.MaxConnections &&
        a.Limits.IdleTimeoutSeconds == b.Limits.IdleTimeoutSeconds;

    /// <summary>Sizes and times of every file under the folder: a cheap "was it replaced?" test.</summary>
    private static string Fingerprint(string folder)
    {
        var builder = new StringBuilder();
        try
        {
            string[] files = Directory.GetFiles(folder, "*", SearchOption.AllDirectories);
            Array.Sort(files, StringComparer.Ordinal);
            foreach (string file in files)
            {
                var info = new FileInfo(file);
                builder.Append(file).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The folder is changing under us; the next event rescans it.
            builder.Append("unreadable");
        }

        return builder.ToString();
    }

    private IEnumerable<string> PluginFolders()
    {
        foreach (string root in _config.Host.Plugins)
        {
            if (!Directory.Exists(root))
            {
                PluginsLog.FolderMissing(_logger, root);
                continue;
            }

            string[] folders = Directory.GetDirectories(root);
            Array.Sort(folders, StringComparer.Ordinal);
            foreach (string folder in folders)
            {
                yield return Path.GetFullPath(folder);
            }
        }
    }

    private List<ConfigError> Validate(GatewayConfig config, IGatewayPlugin plugin, string folder, bool beforeStart = false)
    {
        var errors = new List<ConfigError>();
        string id = plugin.Id;
        var context = new PluginValidationContext(id, config.Configuration.GetSection(id), config.Document.Directory) { PluginDirectory = folder, BeforeStart = beforeStart };
        try
        {
            plugin.Validate(context);
        }
        catch (Exception ex)
        {
            errors.Add(config.Document.ErrorAt(id, $"plugin {id} failed while validating its section ({ex.GetType().Name}: {ex.Message})"));
        }

        foreach (PluginConfigError error in context.Errors)
        {
            errors.Add(error.File is not null
                ? new ConfigError(Path.GetFullPath(error.File, config.Document.Directory), error.Line, error.Column, string.Empty, error.Message)
                : config.Document.ErrorAt(string.IsNullOrEmpty(error.KeyPath) ? id : id + ":" + error.KeyPath, error.Message));
        }

        foreach (PluginConfigError warning in context.Warnings)
        {
            Warnings.Add(config.Document.ErrorAt(string.IsNullOrEmpty(warning.KeyPath) ? id : id + ":" + warning.KeyPath, "warning: " + warning.Message));
        }

        return errors;
    }

    private PluginHandle LoadFolder(string folder, PluginHandle? replacing = null)
    {
        var handle = new PluginHandle(folder, Fingerprint(folder)) { Id = Path.GetFileName(folder) };
        try
        {
            if (PluginTrust.Check(folder) is { } distrust)
            {
                // Refused before a single byte of it is loaded: code others can write is not the operator's code.
                throw new PluginLoadException(distrust);
            }

            PluginAssemblyLoader.Result result = PluginAssemblyLoader.Load(folder);
            string id = result.Plugin.Id;
            PluginHandle? other;
            lock (_plugins)
            {
                other = _plugins.Values.FirstOrDefault(p => p != replacing && p.Plugin is not null && string.Equals(p.Id, id, StringComparison.OrdinalIgnoreCase));
            }

            if (other is not null || string.IsNullOrEmpty(id) || id.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
            {
                result.Loader.Dispose();
                handle.Failure = other is not null ? $"id '{id}' is already used by {other.Folder}" : $"id '{id}' is not lower case letters, digits and '-'";
                PluginsLog.LoadFailed(_logger, PluginAssemblyLoader.DisplayName(folder), handle.Failure);
            }
            else
            {
                handle.Id = id;
                handle.Loader = result.Loader;
                handle.Plugin = result.Plugin;
                PluginsLog.Loaded(_logger, id, result.AssemblyName, folder);
            }
        }
        catch (PluginLoadException ex)
        {
            handle.Failure = ex.Message;
            PluginsLog.LoadFailed(_logger, PluginAssemblyLoader.DisplayName(folder), ex.Message);
        }

        if (replacing is null)
        {
            lock (_plugins)
            {
                _plugins[folder] = handle;
            }
        }

        return handle;
    }

    private async Task LoadAndStartAsync(string folder)
    {
        PluginHandle handle = LoadFolder(folder);
        if (handle.Plugin is null)
        {
            return;
        }

        List<ConfigError> errors = Validate(_config, handle.Plugin, handle.Folder, beforeStart: true);
        if (errors.Count > 0)
        {
            handle.Failure = "configuration rejected";
            foreach (ConfigError error in errors)
            {
                PluginsLog.ConfigRejected(_logger, handle.Id, error.ToString());
            }

            return;
        }

        await StartAsync(handle, _shutdown).ConfigureAwait(false);
    }

    private async Task StartAsync(PluginHandle handle, CancellationToken cancellationToken, bool replacement = false)
    {
        IGatewayPlugin plugin = handle.Plugin!;
        GatewayConfig config = _config;
        handle.Guard ??= new PluginHandlerGuard(handle.Id, _logger, _hostMeter);
        var context = new PluginContext(
            handle.Id,
            config.SectionFor(handle.Id),
            new PluginConfigurationSection(_liveConfiguration.GetSection(handle.Id)),
            config.Document.Directory,
            handle.Folder,
            _loggerFactory,
            _virtualNetwork,
            _sockets,
            handle.Guard,
            ApiRoutes,
            NameResolver)
        {
            IsReplacement = replacement,
        };
        Task start = Task.CompletedTask;
        try
        {
            start = plugin.StartAsync(context, cancellationToken);
            await start.WaitAsync(StartTimeout, cancellationToken).ConfigureAwait(false);
            handle.Context = context;
            handle.Failure = null;
            PluginsLog.Started(_logger, handle.Id);
        }
        catch (Exception ex)
        {
            string reason = ex switch
            {
                PluginConfigException config_ => config.Document.ErrorAt(handle.Id + ":" + config_.KeyPath, config_.Message).ToString(),
                TimeoutException => $"did not start within {StartTimeout.TotalSeconds:0} s",
                System.Net.Sockets.SocketException socket => $"cannot bind: {socket.Message}",
                _ => $"{ex.GetType().Name}: {ex.Message}",
            };
            handle.Failure = reason;
            context.SignalStopping();
            await StopFailedStartAsync(handle, start).ConfigureAwait(false);
            context.DisposeRegistrations();
            PluginsLog.StartFailed(_logger, handle.Id, reason);
        }
    }

    /// <summary>
    /// A start that threw or timed out may have bound things the host does not know of (its own sockets, files, a
    /// UDP port a swap's old version wants back): once the start has returned (bounded by the stop timeout), the
    /// plugin's StopAsync releases them, as the SDK promises.
    /// </summary>
    private async Task StopFailedStartAsync(PluginHandle handle, Task start)
    {
        try
        {
            await start.WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The start's own failure is the reason already logged; a start still running after the stop timeout is
            // stopped anyway (StopAsync must tolerate it).
        }

        try
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            await handle.Plugin!.StopAsync(timeout.Token).WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            PluginsLog.StopFailed(_logger, handle.Id, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private async Task StopAsync(PluginHandle handle)
    {
        PluginContext? context = handle.Context;
        if (context is null)
        {
            return;
        }

        handle.Context = null;
        context.SignalStopping();
        try
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            await handle.Plugin!.StopAsync(timeout.Token).WaitAsync(StopTimeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            PluginsLog.StopFailed(_logger, handle.Id, $"{ex.GetType().Name}: {ex.Message}");
        }

        context.DisposeRegistrations();
        PluginsLog.Stopped(_logger, handle.Id);
    }

    private async Task UnloadAsync(PluginHandle handle)
    {
        await StopAsync(handle).ConfigureAwait(false);
        lock (_plugins)
        {
            // After a swap the folder already maps to the new version: remove only this one.
            if (_plugins.TryGetValue(handle.Folder, out PluginHandle? current) && current == handle)
            {
                _plugins.Remove(handle.Folder);
            }
        }

        WeakReference? alive = Detach(handle);
        if (alive is not null)
        {
            Task verification = VerifyUnloadAsync(alive, handle.Id);
            lock (_verifications)
            {
                _verifications.RemoveAll(t => t.IsCompleted);
                _verifications.Add(verification);
            }
        }
    }

    /// <summary>
    /// Swaps a plugin for the new build in its folder (DESIGN §4): the new version is loaded, validated and started while
    /// the old one still serves; its sockets and virtual endpoints are handed over, so it serves new connections and
    /// datagrams at once; the old version then drains and is unloaded. A new version that fails to load, validate or
    /// start leaves the old one serving (and the reason is logged); the same build is not retried until it changes.
    /// </summary>
    private async Task ReplaceAsync(PluginHandle old, string fingerprint)
    {
        PluginHandle fresh = LoadFolder(old.Folder, replacing: old);
        string? failure = fresh.Failure;
        if (fresh.Plugin is not null)
        {
            List<ConfigError> errors = Validate(_config, fresh.Plugin, fresh.Folder);
            if (errors.Count > 0)
            {
                failure = "configuration rejected: " + string.Join("; ", errors);
            }
            else if (old.Running)
            {
                // The old version's sockets and endpoints may now be taken over by the new one (same id only); what the
                // plugin binds itself (a fixed UDP port, a unix socket) it gives up now and takes back if the new fails.
                old.Guard!.Draining = true;
                failure = await ReleaseExclusiveAsync(old).ConfigureAwait(false);
                if (failure is null)
                {
                    await StartAsync(fresh, _shutdown, replacement: true).ConfigureAwait(false);
                    if (!fresh.Running)
                    {
                        failure = "start failed: " + fresh.Failure;
                        await ReclaimExclusiveAsync(old).ConfigureAwait(false);
                    }
                }

                if (failure is not null)
                {
                    old.Guard.Draining = false;
                }
            }
            else
            {
                await StartAsync(fresh, _shutdown).ConfigureAwait(false);
            }
        }

        if (old.Running && failure is not null)
        {
            PluginsLog.ReplacementRefused(_logger, old.Id, failure);
            old.RejectedFingerprint = fingerprint;
            if (fresh.Plugin is not null)
            {
                Track(DrainAndUnloadAsync(fresh));
            }

            return;
        }

        lock (_plugins)
        {
            _plugins[old.Folder] = fresh;
        }

        if (old.Running)
        {
            PluginsLog.Draining(_logger, old.Id, _config.Host.DrainTimeoutSeconds);
        }

        Track(DrainAndUnloadAsync(old));
    }

    /// <summary>The running version gives up its exclusive resources for its replacement; the reason when it could not (it then serves on).</summary>
    private async Task<string?> ReleaseExclusiveAsync(PluginHandle old)
    {
        try
        {
            using var timeout = new CancellationTokenSource(StopTimeout);
            await old.Plugin!.ReleaseExclusiveResourcesAsync(timeout.Token).WaitAsync(StopTimeout).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex)
        {
            // Whatever it released before failing, it takes back.
            await ReclaimExclusiveAsync(old).ConfigureAwait(false);
            return $"the running version could not release its exclusive resources ({ex.GetType().Name}: {ex.Message})";
        }
    }

    /// <summary>The replacement failed to start: the running version binds again what it released and serves on.</summary>
    private async Task ReclaimExclusiveAsync(PluginHandle old)
    {
        try
        {
            using var timeout = new CancellationTokenSource(StartTimeout);
            await old.Plugin!.ReclaimExclusiveResourcesAsync(timeout.Token).WaitAsync(StartTimeout).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            PluginsLog.ReclaimFailed(_logger, old.Id, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>
    /// Waits until the plugin version has no open connection and has had no datagram for a moment (its replies to
    /// earlier ones have left), at most host.drainTimeoutSeconds; then stops it, unloads it and verifies the unload.
    /// </summary>
    private async Task DrainAndUnloadAsync(PluginHandle handle)
    {
        if (handle.Context is not null && handle.Guard is { } guard)
        {
            long deadline = Environment.TickCount64 + (_config.Host.DrainTimeoutSeconds * 1000L);
            while (Environment.TickCount64 < deadline && !_disposing)
            {
                long sinceDatagram = Environment.TickCount64 - guard.LastDatagramTicks;
                if (guard.ActiveStreams == 0 && (guard.LastDatagramTicks == 0 || sinceDatagram >= DatagramDrainQuiet.TotalMilliseconds))
                {
                    break;
                }

                await Task.Delay(50).ConfigureAwait(false);
            }

            if (guard.ActiveStreams > 0)
            {
                PluginsLog.DrainTimedOut(_logger, handle.Id, guard.ActiveStreams);
            }
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await UnloadAsync(handle).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Track(Task task)
    {
        lock (_verifications)
        {
            _verifications.RemoveAll(t => t.IsCompleted);
            _verifications.Add(task);
        }
    }

    /// <summary>Drops the host's references to the plugin and starts unloading its context (not inlined, so no local keeps it alive).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference? Detach(PluginHandle handle)
    {
        McMaster.NETCore.Plugins.PluginLoader? loader = handle.Loader;
        handle.Loader = null;
        handle.Plugin = null;
        handle.Context = null;
        if (loader is null)
        {
            return null;
        }

        // The weak reference is to the load context itself: the loader is only its owner; disposing it unloads.
        var alive = new WeakReference(loader.LoadContext, trackResurrection: false);
        loader.Dispose();
        return alive;
    }

    private async Task VerifyUnloadAsync(WeakReference alive, string pluginId)
    {
        long deadline = Environment.TickCount64 + (long)UnloadVerifyTimeout.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (!alive.IsAlive)
            {
                PluginsLog.Unloaded(_logger, pluginId);
                (long heap, long committed) = FreedMemory.Return();
                PluginsLog.MemoryAfterUnload(_logger, pluginId, heap / (1024.0 * 1024), committed / (1024.0 * 1024), Environment.WorkingSet / (1024.0 * 1024));
                return;
            }

            await Task.Delay(100).ConfigureAwait(false);
        }

        PluginsLog.UnloadLeak(_logger, pluginId);
    }

    private async Task RescanSafeAsync()
    {
        try
        {
            await RescanAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A folder vanished mid-scan; the event that removed it triggers another rescan.
            _watcher.Trigger();
        }
    }
}
