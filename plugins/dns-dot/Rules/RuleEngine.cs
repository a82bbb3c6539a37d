using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Sdk.IO;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// The rule scripts of <c>dns-dot.rules</c>, compiled and kept current: the resolver calls <see cref="Evaluate"/>
/// per query (a volatile read of an immutable <see cref="RuleSet"/>, then prebuilt matchers and compiled
/// delegates only). Script and block list edits are noticed by file watchers, debounced, compiled off the query
/// path and swapped in atomically; a broken edit is logged with file:line:col and the previous rules stay.
/// The previous generation's collectible context is unloaded, and the unload is verified. At start, scripts with no
/// cached image can compile in the background while a stand-in serves (<see cref="RulesStartupMode"/>, issue 21).
/// </summary>
internal sealed class RuleEngine : IRuleEvaluator, IDisposable
{
    /// <summary>Editors write a file in several steps; wait for quiet before compiling.</summary>
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);

    /// <summary>How long an old context may take to unload before it is reported as a leak.</summary>
    private static readonly TimeSpan UnloadDeadline = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<string> _globs;
    private readonly string _configDirectory;
    private readonly string? _pluginDirectory;
    private readonly Lists.IListCatalog? _lists;
    private readonly ScriptCache? _cache;
    private readonly ILogger _logger;
    private readonly RuleMetrics _metrics;
    private readonly RuleFailureReporter _failures;
    private readonly Lock _reloadLock = new();
    private readonly Lock _unloadLock = new();
    private readonly Dictionary<string, IDisposable> _watchers = new(StringComparer.Ordinal);
    private readonly List<(WeakReference Context, long Generation, long DeadlineMs)> _unloading = [];
    private readonly DebouncedFileWatcher _debounce;
    private volatile RuleSet _current;
    private string _fingerprint = "";
    private Task _unloadVerifier = Task.CompletedTask;
    private long _reloads;
    private long _failedReloads;
    private long _leaks;
    private bool _disposed;
    private Thread? _backgroundCompile;
    private int _disposeRequested;
    private volatile bool _loadFailed;

    private RuleEngine(IReadOnlyList<string> globs, string configDirectory, string? pluginDirectory, ILoggerFactory loggerFactory, Meter? meter, Lists.IListCatalog? lists, ScriptCache? cache)
    {
        _globs = globs;
        _lists = lists;
        _cache = cache;
        _pluginDirectory = pluginDirectory;
        _configDirectory = Path.GetFullPath(configDirectory);
        _logger = loggerFactory.CreateLogger("rules");
        _metrics = new RuleMetrics(meter);
        _failures = new RuleFailureReporter(_logger, _metrics);
        _current = RuleSet.Empty(_metrics, _failures);
        _debounce = new DebouncedFileWatcher(Debounce, OnQuiet, e => RulesLog.WatchFailed(_logger, e.Message));
    }

    /// <summary>Upstream group names used by <c>Forward(...)</c> in the current rules (config validation checks they exist).</summary>
    public IReadOnlyCollection<string> ReferencedGroups => _current.ReferencedGroups;

    /// <summary>The current generation (for tests and diagnostics).</summary>
    internal RuleSet Current => _current;

    /// <summary>Successful (re)loads so far, including the first.</summary>
    internal long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Failed (re)loads so far.</summary>
    internal long FailedReloads => Interlocked.Read(ref _failedReloads);

    /// <summary>Old script contexts that did not unload (should stay 0).</summary>
    internal long Leaks => Interlocked.Read(ref _leaks);

    /// <summary>Rule lambdas that threw so far.</summary>
    internal long RuleFailures => _failures.Total;

    /// <summary>
    /// Where the scripts are (the admin API's <c>rules.state</c>): <c>compiling</c> while a start compiles them in the
    /// background, <c>active</c> once a generation loaded, <c>failed</c> when none loaded because of errors.
    /// </summary>
    public string State => Interlocked.Read(ref _reloads) > 0 ? "active" : Volatile.Read(ref _backgroundCompile) is not null ? "compiling" : _loadFailed ? "failed" : "none";

    /// <summary>The stand-in while the scripts compile at start or after they failed to (null once scripts loaded).</summary>
    internal PendingRuleStep? Pending => _current.Steps is [PendingRuleStep pending] ? pending : null;

    /// <summary>The background compile of a start, when one runs (tests wait for it).</summary>
    internal Thread? BackgroundCompile => Volatile.Read(ref _backgroundCompile);

    /// <summary>
    /// Compiles the scripts matched by <paramref name="globs"/> (relative to <paramref name="configDirectory"/>)
    /// and starts watching them. Never throws for script errors: they are logged and the engine starts with no
    /// rules (every query continues to normal resolution) until a fixed edit loads. <paramref name="pluginDirectory"/>
    /// is the plugin's folder, where the rule compiler is (null: this assembly's folder); <paramref name="lists"/> the
    /// configured lists scripts may name; <paramref name="cache"/> keeps compiled scripts between runs (null: none).
    /// With <paramref name="startup"/> <c>fast</c> or <c>refuse</c>, scripts that need the compiler (no image in the
    /// cache) compile on a background thread while a <see cref="PendingRuleStep"/> serves, and this returns at once;
    /// <c>wait</c> (the default, and what reloads use) compiles before returning.
    /// </summary>
    public static RuleEngine Start(IReadOnlyList<string> globs, string configDirectory, ILoggerFactory loggerFactory, Meter meter, string? pluginDirectory = null, Lists.IListCatalog? lists = null, ScriptCache? cache = null, RulesStartupMode startup = RulesStartupMode.Wait)
    {
        ArgumentNullException.ThrowIfNull(globs);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        var engine = new RuleEngine([.. globs], configDirectory, pluginDirectory, loggerFactory, meter, lists, cache);
        if (globs.Count > 0)
        {
            lock (engine._reloadLock)
            {
                if (startup == RulesStartupMode.Wait)
                {
                    engine.Reload();
                }
                else if (engine.Load(compilerAllowed: false) == LoadOutcome.NeedsCompiler)
                {
                    engine.CompileInBackground(startup);
                }

                engine.UpdateWatchers();
            }
        }

        return engine;
    }

    /// <summary>
    /// Compiles and runs the scripts without keeping them (for <see cref="IGatewayPlugin.Validate"/> and
    /// <c>gateway check</c>): every problem with the script's file:line:col; empty when they load. When
    /// <paramref name="knownGroups"/> is given (the keys of <c>dns-dot.groups</c>), a <c>Forward</c> to any other
    /// group is an error too. <paramref name="pluginDirectory"/> is the plugin's folder, where the rule compiler is
    /// (null: this assembly's folder). With <paramref name="cache"/>, a script that compiled cleanly before (same
    /// text, compiler and references) is loaded from it; errors are never cached, so they always come from Roslyn.
    /// With <paramref name="compilerAllowed"/> false (a start that compiles in the background), only scripts with an
    /// emitted image are checked: when one has none, the start's background compile reports its errors instead.
    /// </summary>
    public static IReadOnlyList<PluginConfigError> Check(IReadOnlyList<string> globs, string configDirectory, IReadOnlyCollection<string>? knownGroups = null, string? pluginDirectory = null, Lists.IListCatalog? lists = null, ScriptCache? cache = null, bool compilerAllowed = true)
    {
        ArgumentNullException.ThrowIfNull(globs);
        var errors = new List<PluginConfigError>();
        IReadOnlyList<string> files = RuleFiles.Resolve(globs, Path.GetFullPath(configDirectory), errors);
        if (errors.Count > 0 || files.Count == 0)
        {
            return errors;
        }

        ScriptCompiler.Result result = ScriptCompiler.CompileAll(files, RuleMetrics.None, new RuleFailureReporter(NullLogger.Instance, RuleMetrics.None), pluginDirectory, lists, cache, compilerAllowed);
        result.RuleSet?.Context?.Unload();
        if (knownGroups is null || result.GroupScripts is null)
        {
            return result.Errors;
        }

        var all = new List<PluginConfigError>(result.Errors);
        foreach ((string group, (string script, int line, int column)) in result.GroupScripts)
        {
            if (!knownGroups.Contains(group))
            {
                all.Add(new PluginConfigError(null, $"Forward(..., group: \"{group}\") names an upstream group that dns-dot.groups does not define", script, line, column));
            }
        }

        return all;
    }

    /// <inheritdoc/>
    public Verdict Evaluate(DnsQuery query) => _current.Evaluate(query);

    /// <summary>
    /// Recompiles now (the watchers call this after a debounce). True when the new rules are in use; false when
    /// they had errors (logged) and the previous rules stay.
    /// </summary>
    internal bool Reload() => Load(compilerAllowed: true) == LoadOutcome.Loaded;

    /// <summary>
    /// Compiles and swaps in; with <paramref name="compilerAllowed"/> false, nothing changes when a script would need
    /// Roslyn (<see cref="LoadOutcome.NeedsCompiler"/>).
    /// </summary>
    private LoadOutcome Load(bool compilerAllowed)
    {
        lock (_reloadLock)
        {
            if (_disposed)
            {
                return LoadOutcome.Failed;
            }

            long started = Stopwatch.GetTimestamp();
            var errors = new List<PluginConfigError>();
            IReadOnlyList<string> files = RuleFiles.Resolve(_globs, _configDirectory, errors, (glob, directory) => RulesLog.GlobMatchesNothing(_logger, glob, directory));

            // Taken before compiling, so an edit made while compiling is seen as a change afterwards.
            string fingerprint = Fingerprint(files, _current.Files);
            ScriptCompiler.Result result = errors.Count > 0
                ? new ScriptCompiler.Result(null, errors)
                : ScriptCompiler.CompileAll(files, _metrics, _failures, _pluginDirectory, _lists, _cache, compilerAllowed);
            if (result.NeedsCompiler)
            {
                return LoadOutcome.NeedsCompiler;
            }

            LogCache(result);

            RuleSet? next = result.RuleSet;
            _fingerprint = next is null || next.Files.SequenceEqual(_current.Files) ? fingerprint : Fingerprint(files, next.Files);
            if (next is null)
            {
                Interlocked.Increment(ref _failedReloads);
                _metrics.Reload(ok: false);
                foreach (PluginConfigError error in result.Errors)
                {
                    RulesLog.ScriptError(_logger, error.File ?? $"dns-dot.{error.KeyPath}", error.Line, error.Column, error.Message);
                }

                string action = Interlocked.Read(ref _reloads) > 0 ? "the previous rules stay in use"
                    : Pending?.Mode == RulesStartupMode.Refuse ? "every query stays REFUSED (dns-dot.rulesStartup: refuse) until the scripts are fixed"
                    : "serving with no rules until the scripts are fixed";
                _loadFailed = Interlocked.Read(ref _reloads) == 0;
                RulesLog.LoadFailed(_logger, result.Errors.Count, action);
                ScheduleCollection(null);
                return LoadOutcome.Failed;
            }

            PendingRuleStep? pending = Pending;
            Retire(Swap(next));
            Interlocked.Increment(ref _reloads);
            _loadFailed = false;
            _metrics.Reload(ok: true);
            long elapsedMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            RulesLog.Loaded(_logger, next.Steps.Count, next.NameCount, files.Count, elapsedMs);
            if (pending is not null)
            {
                RulesLog.ScriptsTookOver(_logger, files.Count, elapsedMs, pending.Queries, pending.Mode == RulesStartupMode.Refuse ? "REFUSED" : "without the scripts' rules");
            }

            return LoadOutcome.Loaded;
        }
    }

    /// <summary>
    /// Puts the stand-in for <paramref name="mode"/> in place and compiles on a thread of its own, at a lower priority
    /// than the query path (nice 10 on Linux): Roslyn takes seconds of CPU on a cold start, and the machine is often
    /// small. Called with the reload lock held; the compile takes it, so a script edit meanwhile waits for it.
    /// </summary>
    private void CompileInBackground(RulesStartupMode mode)
    {
        // Swapped without Retire: the rule set it replaces is the initial empty one (no context to unload), and a
        // collection now would pause the start for nothing.
        var pending = new PendingRuleStep(mode);
        Swap(new RuleSet([pending], [], [], 0, _metrics, _failures, null));
        var thread = new Thread(CompileAtStart) { IsBackground = true, Name = "dns-dot rule compile", Priority = ThreadPriority.BelowNormal };
        Volatile.Write(ref _backgroundCompile, thread);
        RulesLog.ScriptsCompiling(_logger, mode == RulesStartupMode.Refuse
            ? "every query is answered REFUSED (dns-dot.rulesStartup: refuse)"
            : "queries are answered as if the scripts had no rules: client policy, lists, records, cache and forwarding still apply (dns-dot.rulesStartup: fast)");
        thread.Start();
    }

    private void CompileAtStart()
    {
        try
        {
            BackgroundPriority.LowerCurrentThread();
            lock (_reloadLock)
            {
                // An edit noticed meanwhile may have loaded the scripts already.
                if (Pending is not null && Volatile.Read(ref _disposeRequested) == 0)
                {
                    Load(compilerAllowed: true);
                }

                if (Volatile.Read(ref _disposeRequested) == 0)
                {
                    UpdateWatchers();
                }
            }
        }
        catch (Exception exception)
        {
            // A thread's exception would end the process; the stand-in keeps serving and a fixed edit reloads.
            RulesLog.ReloadCrashed(_logger, exception);
        }
        finally
        {
            Interlocked.Exchange(ref _backgroundCompile, null);
            if (Interlocked.CompareExchange(ref _disposeRequested, 0, 0) == 1)
            {
                DisposeNow();
            }
        }
    }

    /// <summary>What <see cref="Load"/> did.</summary>
    private enum LoadOutcome
    {
        Loaded,
        Failed,
        NeedsCompiler,
    }

    private void LogCache(ScriptCompiler.Result result)
    {
        if (_cache is null)
        {
            return;
        }

        if (result.CacheProblem is { } problem)
        {
            RulesLog.CacheProblem(_logger, problem);
        }

        if (result.FromCache > 0 && result.Compiled == 0)
        {
            RulesLog.LoadedFromCache(_logger, result.FromCache, _cache.Directory);
        }
        else if (result.Compiled > 0)
        {
            RulesLog.Compiled(_logger, result.Compiled, result.FromCache, _cache.Directory);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // A start's background compile holds the reload lock for seconds and Roslyn cannot be cancelled: a stop does
        // not wait for it; the compile thread disposes the engine when it ends (full fences: each side sees the other).
        Interlocked.Exchange(ref _disposeRequested, 1);
        if (Interlocked.CompareExchange(ref _backgroundCompile, null, null) is not null)
        {
            // Stand-in or not, nothing may answer from this engine's rules any more.
            _current = RuleSet.Empty(_metrics, _failures);
            return;
        }

        DisposeNow();
    }

    private void DisposeNow()
    {
        lock (_reloadLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _debounce.Dispose();
            foreach (IDisposable watcher in _watchers.Values)
            {
                watcher.Dispose();
            }

            _watchers.Clear();
            Retire(Swap(RuleSet.Empty(_metrics, _failures)));
        }
    }

    /// <summary>Waits until old contexts were verified unloaded (or reported as leaks); for tests.</summary>
    internal Task WaitForUnloadsAsync()
    {
        lock (_unloadLock)
        {
            return _unloadVerifier;
        }
    }

    private RuleSet Swap(RuleSet next)
    {
        RuleSet old = _current;
        _current = next;
        return old;
    }

    /// <summary>Unloads an old generation's context; queries still running in it finish first (unloading is cooperative).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Retire(RuleSet old)
    {
        ScriptLoadContext? context = old.Context;
        if (context is null)
        {
            ScheduleCollection(null);
            return;
        }

        context.Unload();
        ScheduleCollection((new WeakReference(context), context.Generation, Environment.TickCount64 + (long)UnloadDeadline.TotalMilliseconds));
    }

    /// <summary>
    /// Verifies unloads off the reload path (collect, wait, check the weak reference), then compacts the heap
    /// aggressively once so memory Roslyn used is returned to the OS (the gateway's idle RSS goal).
    /// </summary>
    private void ScheduleCollection((WeakReference Context, long Generation, long DeadlineMs)? pending)
    {
        lock (_unloadLock)
        {
            if (pending is { } item)
            {
                _unloading.Add(item);
            }

            if (_unloadVerifier.IsCompleted)
            {
                _unloadVerifier = Task.Run(VerifyUnloadsAsync);
            }
        }
    }

    private async Task VerifyUnloadsAsync()
    {
        while (true)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            lock (_unloadLock)
            {
                for (int i = _unloading.Count - 1; i >= 0; i--)
                {
                    (WeakReference context, long generation, long deadlineMs) = _unloading[i];
                    if (!context.IsAlive)
                    {
                        RulesLog.Unloaded(_logger, generation);
                        _unloading.RemoveAt(i);
                    }
                    else if (Environment.TickCount64 > deadlineMs)
                    {
                        Interlocked.Increment(ref _leaks);
                        RulesLog.UnloadLeak(_logger, generation, (int)UnloadDeadline.TotalSeconds);
                        _unloading.RemoveAt(i);
                    }
                }

                if (_unloading.Count == 0)
                {
                    break;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        NativeMemory.Trim();
    }

    private void UpdateWatchers()
    {
        var wanted = new Dictionary<string, (string Directory, bool Recursive)>(StringComparer.Ordinal);
        foreach ((string directory, bool recursive) in RuleFiles.WatchedDirectories(_globs, _configDirectory))
        {
            wanted[$"{directory}|{recursive}"] = (directory, recursive);
        }

        foreach (string file in _current.Files)
        {
            string directory = Path.GetDirectoryName(file)!;
            wanted.TryAdd($"{directory}|False", (directory, false));
        }

        foreach (string key in _watchers.Keys.ToArray())
        {
            if (!wanted.ContainsKey(key))
            {
                _watchers.Remove(key, out IDisposable? watcher);
                watcher?.Dispose();
            }
        }

        foreach ((string key, (string directory, bool recursive)) in wanted)
        {
            if (_watchers.ContainsKey(key) || !Directory.Exists(directory))
            {
                continue;
            }

            try
            {
                _watchers.Add(key, _debounce.Watch(directory, recursive));
            }
            catch (Exception exception) when (exception is IOException or ArgumentException or UnauthorizedAccessException)
            {
                RulesLog.WatchFailed(_logger, $"{directory}: {exception.Message}");
            }
        }
    }

    /// <summary>After the debounce: reload only when a script or list file really changed (not an editor's swap file).</summary>
    private void OnQuiet()
    {
        try
        {
            lock (_reloadLock)
            {
                if (_disposed)
                {
                    return;
                }

                IReadOnlyList<string> files = RuleFiles.Resolve(_globs, _configDirectory, null);
                if (Fingerprint(files, _current.Files) == _fingerprint)
                {
                    return;
                }

                RulesLog.ChangeDetected(_logger, files.Count);
                Reload();
                UpdateWatchers();
            }
        }
        catch (Exception exception)
        {
            // A timer callback must not throw (it would end the process); the previous rules stay.
            RulesLog.ReloadCrashed(_logger, exception);
        }
    }

    /// <summary>Paths, sizes and write times of every file the rules depend on.</summary>
    private static string Fingerprint(IReadOnlyList<string> scripts, IReadOnlyList<string> dependencies)
    {
        var text = new StringBuilder();
        foreach (IReadOnlyList<string> list in (IReadOnlyList<string>[])[scripts, dependencies])
        {
            foreach (string file in list)
            {
                // A link's own size and time never change when its target is replaced (a Kubernetes ConfigMap:
                // block.csx → ..data/block.csx, and ..data is swapped): FileInfo reports the link itself (lstat), so
                // the final target is what is compared, with its path.
                var info = new FileInfo(file);
                FileInfo target = info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info;
                text.Append(file).Append('|');
                if (target.Exists)
                {
                    text.Append(target.FullName).Append('|').Append(target.Length).Append('|').Append(target.LastWriteTimeUtc.Ticks);
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }
}
