using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Gateway.Plugins.DnsDot;

/// <summary>
/// The dns-dot plugin (DESIGN §5, §7): DNS over UDP and TCP on host sockets and virtual endpoints,
/// forwarded over DNS-over-TLS with caching and load balancing.
/// </summary>
/// <remarks>
/// Endpoints: <c>listen:</c> and <c>virtual:</c>. When <c>virtual:</c> is absent and the TUN is enabled, the
/// plugin serves 10.30.30.30:53 and [fd00:30::30]:53 on the TUN. When the whole <c>dns-dot</c> section is
/// absent the plugin stays idle: no listeners, no upstream connections.
/// <para>
/// Reloads: the host restarts the plugin when <c>listen:</c> or <c>virtual:</c> change and fires the section's
/// reload token otherwise; every other key then applies live. The new <see cref="ResolverSnapshot"/> is built
/// off the query path (<see cref="ResolverSnapshotBuilder"/>: unchanged upstreams keep their pools), swapped in
/// with one reference write, and upstreams no longer used are drained, then closed.
/// </para>
/// </remarks>
public sealed class DnsDotPlugin : IGatewayPlugin
{
    /// <summary>The default virtual endpoints when the TUN is enabled and <c>virtual:</c> is absent.</summary>
    internal static readonly NetEndpoint[] DefaultVirtualEndpoints =
    [
        NetEndpoint.Parse("10.30.30.30:53"),
        NetEndpoint.Parse("[fd00:30::30]:53"),
    ];

    // Query timeouts are found by sweeping the pending tables this often (not a timer per query).
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(100);

    // A retired upstream is closed this long after the old query timeout: every query that could still use it
    // (started before the swap, or its one retry) has reached its deadline by then.
    private static readonly TimeSpan DrainMargin = TimeSpan.FromSeconds(1);

    private DnsServer? _server;
    private IDisposable? _nameResolverRegistration;
    private readonly List<(DnsUpstream Upstream, long CloseAt)> _draining = new();
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private DnsUpstream[] _active = [];
    private int _drainingCount;
    private IPluginContext? _context;
    private ILogger _logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    private DnsDotMetrics? _metrics;
    private IDisposable? _reloadRegistration;
    private CancellationTokenSource? _stopping;
    private Task? _maintenance;
    private Timer? _sweep;
    private DnsResolver? _resolver;
    private IRuleEvaluator? _rules;
    private bool _rulesInjected;
    private RuleEngine? _ruleEngine;
    private Filtering.FilteringRuntime? _filtering;
    private Task _lastReload = Task.CompletedTask;

    /// <summary>Creates the plugin (the host does this).</summary>
    public DnsDotPlugin()
    {
    }

    /// <summary>Creates the plugin with a rule evaluator (tests, and the seam for the rules component).</summary>
    internal DnsDotPlugin(IRuleEvaluator? rules) => _rules = rules;

    /// <inheritdoc/>
    public string Id => "dns-dot";

    /// <summary>
    /// The rule evaluator consulted for every query; null means no rules. May be set before or after
    /// <see cref="StartAsync"/> and swapped at any time (rule reloads). Set before start, it replaces the
    /// <c>rules:</c> scripts for the plugin's lifetime (reloads leave it in place).
    /// </summary>
    internal IRuleEvaluator? RuleEvaluator
    {
        get => _rules;
        set
        {
            _rules = value;
            if (_resolver is not null)
            {
                _resolver.Rules = value;
            }
        }
    }

    /// <summary>What the plugin serves while running: endpoints, listeners, client admission (tests).</summary>
    internal DnsServer? Server => _server;

    /// <summary>The resolver while running (tests).</summary>
    internal DnsResolver? Resolver => _resolver;

    /// <summary>The upstreams in use (every group's), as of the last start or reload (tests).</summary>
    internal IReadOnlyList<DnsUpstream> Upstreams => Volatile.Read(ref _active);

    /// <summary>Upstreams a reload removed that are still draining (tests).</summary>
    internal int DrainingCount => Volatile.Read(ref _drainingCount);

    /// <summary>The reload in progress or last finished (tests wait for it).</summary>
    internal Task LastReload => Volatile.Read(ref _lastReload);

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context)
    {
        DnsDotOptionsValidator.Validate(context);

        // `gateway check` compiles the rule scripts too (DESIGN §6), reporting script errors as file:line:col. Right
        // before a start with rulesStartup fast or refuse, a script with no cached image is left to the start, which
        // compiles it in the background (issue 21) and logs its errors: Roslyn stays off the ready path.
        bool compilerAllowed = !context.BeforeStart || RulesStartupModes.Parse(context.Configuration["rulesStartup"] ?? "fast") is RulesStartupMode.Wait or null;
        string[] globs = context.Configuration.GetSection("rules").Get<string[]>() ?? [];
        var groups = new List<string>();
        foreach (IConfigurationSection group in context.Configuration.GetSection("groups").GetChildren())
        {
            groups.Add(group.Key);
        }

        var lists = new Lists.NamedListCatalog(context.Configuration.GetSection("lists").Get<List<ListOptions>>() ?? [], context.ConfigDirectory);
        ScriptCache cache = ScriptCache.InStateDirectory(context.Configuration["stateDirectory"], context.ConfigDirectory);
        foreach (PluginConfigError error in RuleEngine.Check(globs, context.ConfigDirectory, knownGroups: groups, pluginDirectory: context.PluginDirectory, lists: lists, cache: cache, compilerAllowed: compilerAllowed))
        {
            if (error.File is null)
            {
                context.Error(error.KeyPath ?? "rules", error.Message);
            }
            else
            {
                context.ErrorAt(error.File, error.Line, error.Column, error.Message);
            }
        }
    }

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        _context = context;
        _logger = context.LoggerFactory.CreateLogger("dns-dot");
        _rulesInjected = _rules is not null;
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(context.Stopping);
        IConfiguration section = context.Configuration;
        if (!section.GetChildren().Any())
        {
            DnsDotLog.Idle(_logger);
        }
        else
        {
            Activate(context, Validated(section, context.ConfigDirectory, _logger, firstLoad: true)!);
        }

        // Every key but listen:/virtual: applies live (the host restarts the plugin for those two). Registered
        // only once started: a plugin that failed to start is retried by the host, not by its own token.
        _reloadRegistration = ChangeToken.OnChange(section.GetReloadToken, OnReloadToken);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _reloadRegistration?.Dispose();
        _reloadRegistration = null;
        if (_stopping is not null)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        // A reload in progress finishes (or sees the cancellation) before everything is torn down.
        await _reloadGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await DeactivateAsync(drain: false).ConfigureAwait(false);
        }
        finally
        {
            _reloadGate.Release();
        }

        // Validation may have compiled scripts too: no Roslyn context outlives the plugin (it would hold it loaded). A
        // start's background compile still running is not waited for: its end arms the compiler's idle release.
        ScriptCompiler.ReleaseCompiler(waitForCompile: false);
        _stopping?.Dispose();
        _stopping = null;
        _context = null;
        _metrics = null;
    }

    /// <summary>Applies the current section now (the reload token's callback runs this off its own thread).</summary>
    internal async Task ReloadAsync()
    {
        await _reloadGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            IPluginContext? context = _context;
            if (context is null || _stopping is null || _stopping.IsCancellationRequested)
            {
                return;
            }

            IConfiguration section = context.Configuration;
            if (!section.GetChildren().Any())
            {
                if (_resolver is not null)
                {
                    await DeactivateAsync(drain: true).ConfigureAwait(false);
                    DnsDotLog.Deactivated(_logger);
                }

                return;
            }

            DnsDotOptions? options = Validated(section, context.ConfigDirectory, _logger, firstLoad: false);
            if (options is null)
            {
                return;
            }

            if (_resolver is null)
            {
                Activate(context, options);
                DnsDotLog.Reloaded(_logger, "dns-dot section added: serving");
                return;
            }

            Apply(context, _resolver, options);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or PluginConfigException or ArgumentException or FormatException)
        {
            DnsDotLog.ReloadFailed(_logger, e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Nobody awaits the reload task: anything unexpected is still reported, and the old state stays.
            DnsDotLog.ReloadFailed(_logger, $"{e.GetType().Name}: {e.Message}");
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    private void OnReloadToken()
    {
        // Off the host's thread: building upstreams reads CA files and starting rules compiles scripts.
        Task reload = Task.Run(ReloadAsync);
        Volatile.Write(ref _lastReload, reload);
    }

    // The first load fails hard (PluginConfigException); a later bad section is logged and the old state kept.
    private static DnsDotOptions? Validated(IConfiguration section, string configDirectory, ILogger logger, bool firstLoad)
    {
        var validation = new PluginValidationContext("dns-dot", section, configDirectory);
        DnsDotOptionsValidator.Validate(validation);
        if (validation.Errors.Count == 0)
        {
            DnsDotOptions options = DnsDotOptionsValidator.Bind(section, null)!;

            // An emptied entry (an environment override set to "", a provider that cannot delete keys) means no glob.
            options.Rules.RemoveAll(string.IsNullOrWhiteSpace);
            return options;
        }

        PluginConfigError first = validation.Errors[0];
        if (firstLoad)
        {
            throw new PluginConfigException(first.KeyPath ?? "", first.Message);
        }

        DnsDotLog.ReloadFailed(logger, $"{first.KeyPath}: {first.Message}");
        return null;
    }

    /// <summary>Compiled rule scripts are kept in the state folder, beside the list copies (issue 21: start-up without Roslyn).</summary>
    private static ScriptCache RuleCache(DnsDotOptions options, string configDirectory) =>
        ScriptCache.InStateDirectory(options.StateDirectory, configDirectory);

    private void Activate(IPluginContext context, DnsDotOptions options)
    {
        DnsDotMetrics metrics = _metrics ??= new DnsDotMetrics(context.Meter);
        _filtering ??= new Filtering.FilteringRuntime(context, _logger);
        if (!_rulesInjected && options.Rules.Count > 0)
        {
            // A reload that adds the section was validated in full (compiled), so its scripts load at once in any mode.
            _ruleEngine = RuleEngine.Start(options.Rules, context.ConfigDirectory, context.LoggerFactory, context.Meter, context.PluginDirectory, _filtering.Lists, RuleCache(options, context.ConfigDirectory), RulesStartupModes.Parse(options.RulesStartup) ?? RulesStartupMode.Fast);
            _rules = _ruleEngine;
        }

        SnapshotBuild build = ResolverSnapshotBuilder.Build(options, null, context.ConfigDirectory, context.ProtectSocket, _rules, metrics, _logger);
        ResolverSnapshot snapshot = build.Snapshot;
        if (options.Upstreams.Count == 0)
        {
            DnsDotLog.NoUpstreams(_logger);
        }

        _resolver = new DnsResolver(options, snapshot.DefaultGroup, snapshot.Groups, snapshot.Cache, metrics, _logger) { Rules = _rules };
        _resolver.Swap(_filtering.Configure(options, _resolver.Snapshot), replaceRules: false);
        _filtering.Attach(_resolver);
        Volatile.Write(ref _active, snapshot.Upstreams);

        _server = DnsServer.Start(context, options, _resolver, metrics, _logger);
        _nameResolverRegistration = context.ProvideNameResolver(new DnsDotNameResolver(_resolver));

        _maintenance ??= MaintainAsync(_stopping!.Token);
        _sweep ??= new Timer(static state => ((DnsDotPlugin)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    // A reload of a running plugin: build off the query path, swap, pre-warm what is new, drain what is gone.
    private void Apply(IPluginContext context, DnsResolver resolver, DnsDotOptions options)
    {
        ResolverSnapshot current = resolver.Snapshot;
        bool rulesChanged = !_rulesInjected && !current.Options.Rules.SequenceEqual(options.Rules, StringComparer.Ordinal);
        RuleEngine? engine = null;
        if (rulesChanged && options.Rules.Count > 0)
        {
            // The new engine compiles and watches its scripts; it reports its own script errors.
            engine = RuleEngine.Start(options.Rules, context.ConfigDirectory, context.LoggerFactory, context.Meter, context.PluginDirectory, _filtering?.Lists, RuleCache(options, context.ConfigDirectory));
        }

        SnapshotBuild build;
        ResolverSnapshot next;
        try
        {
            build = ResolverSnapshotBuilder.Build(options, current, context.ConfigDirectory, context.ProtectSocket, rulesChanged ? engine : current.Rules, _metrics!, _logger);
            next = _filtering?.Configure(options, build.Snapshot) ?? build.Snapshot;
        }
        catch
        {
            engine?.Dispose();
            throw;
        }

        ResolverSnapshot previous = resolver.Swap(next, replaceRules: rulesChanged);
        _server?.Apply(options);
        Volatile.Write(ref _active, build.Snapshot.Upstreams);
        if (rulesChanged)
        {
            RuleEngine? old = _ruleEngine;
            _ruleEngine = engine;
            _rules = engine;
            old?.Dispose();
        }

        // Pre-warm new pools now rather than on the maintenance tick: the first queries after the swap need them.
        foreach (DnsUpstream upstream in build.Created)
        {
            upstream.Maintain(_stopping!.Token);
        }

        Retire(build.Retired, TimeSpan.FromMilliseconds(previous.Options.QueryTimeoutMs) + DrainMargin);
        if (build.Snapshot.Cache is { } cache && ReferenceEquals(cache, previous.Cache))
        {
            var live = new HashSet<int> { build.Snapshot.DefaultGroup.CacheId };
            foreach (UpstreamGroup group in build.Snapshot.Groups.Values)
            {
                live.Add(group.CacheId);
            }

            cache.RemoveGroupsExcept(live);
        }

        if (build.Changes.Count == 0)
        {
            DnsDotLog.ReloadUnchanged(_logger);
        }
        else
        {
            DnsDotLog.Reloaded(_logger, string.Join(", ", build.Changes));
        }
    }

    // Queries already sent (or about to be retried) on these upstreams finish there; nothing new is sent to
    // them; after the drain their connections close and anything left fails over to SERVFAIL, never a hang.
    private void Retire(IReadOnlyList<DnsUpstream> upstreams, TimeSpan drain)
    {
        if (upstreams.Count == 0)
        {
            return;
        }

        long closeAt = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(drain.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        lock (_draining)
        {
            foreach (DnsUpstream upstream in upstreams)
            {
                _draining.Add((upstream, closeAt));
                DnsDotLog.UpstreamRetiring(_logger, upstream.Name, (long)drain.TotalMilliseconds);
            }

            Volatile.Write(ref _drainingCount, _draining.Count);
        }
    }

    // Stop (drain: false) or the section removed by a reload (drain: true): unbind, stop rules, close or drain upstreams.
    private async Task DeactivateAsync(bool drain)
    {
        _nameResolverRegistration?.Dispose();
        _nameResolverRegistration = null;
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
            _server = null;
        }

        DnsUpstream[] active = Interlocked.Exchange(ref _active, []);
        if (drain && _resolver is not null)
        {
            Retire(active, TimeSpan.FromMilliseconds(_resolver.Snapshot.Options.QueryTimeoutMs) + DrainMargin);
        }
        else
        {
            if (_sweep is not null)
            {
                await _sweep.DisposeAsync().ConfigureAwait(false);
                _sweep = null;
            }

            if (_maintenance is not null)
            {
                await _maintenance.ConfigureAwait(false);
                _maintenance = null;
            }

            foreach (DnsUpstream upstream in active)
            {
                upstream.Close();
            }

            (DnsUpstream Upstream, long CloseAt)[] draining;
            lock (_draining)
            {
                draining = [.. _draining];
                _draining.Clear();
                Volatile.Write(ref _drainingCount, 0);
            }

            foreach ((DnsUpstream upstream, _) in draining)
            {
                upstream.Close();
            }
        }

        if (_ruleEngine is not null)
        {
            _ruleEngine.Dispose();
            if (ReferenceEquals(_rules, _ruleEngine))
            {
                _rules = null;
            }

            _ruleEngine = null;
        }

        _filtering?.Dispose();
        _filtering = null;
        _resolver = null;
    }

    private void Sweep()
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (DnsUpstream upstream in Volatile.Read(ref _active))
        {
            upstream.Sweep(now);
        }

        if (Volatile.Read(ref _drainingCount) == 0)
        {
            return;
        }

        List<DnsUpstream>? closing = null;
        lock (_draining)
        {
            for (int i = _draining.Count - 1; i >= 0; i--)
            {
                (DnsUpstream upstream, long closeAt) = _draining[i];
                upstream.Sweep(now);
                if (now >= closeAt)
                {
                    _draining.RemoveAt(i);
                    (closing ??= new()).Add(upstream);
                }
            }

            Volatile.Write(ref _drainingCount, _draining.Count);
        }

        if (closing is not null)
        {
            foreach (DnsUpstream upstream in closing)
            {
                upstream.Close("removed by a configuration reload");
                _metrics?.Unregister(upstream);
            }
        }
    }

    // Pre-warms the pools at once, then keeps them fresh (dotproxy's stale_timeout) about once a second.
    private async Task MaintainAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            foreach (DnsUpstream upstream in Volatile.Read(ref _active))
            {
                upstream.Maintain(cancellationToken);
            }

            _server?.Maintain();
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    private static async ValueTask<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
