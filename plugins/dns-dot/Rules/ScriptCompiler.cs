using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Compiles rule scripts with Roslyn, loads them into a fresh <see cref="ScriptLoadContext"/>, and runs them
/// once to collect their rules. Roslyn itself runs in a <see cref="CompilerLoadContext"/> that is unloaded when
/// the round of compiles ends: Roslyn is heavy (tens of MB of code and data) and the gateway is not.
/// </summary>
internal static class ScriptCompiler
{
    /// <summary>How long a script may run at load time before it is reported as hanging.</summary>
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(30);

    private static readonly string[] FrameworkReferences =
    [
        "System.Private.CoreLib", "System.Runtime", "System.Collections", "System.Linq", "System.Net.Primitives",
        "System.Memory", "System.Text.RegularExpressions", "System.Console", "System.Runtime.Extensions",
    ];

    private static readonly string[] Imports =
    [
        "System", "System.Collections.Generic", "System.Linq", "System.Net", "System.Text.RegularExpressions",
        "Gateway.Plugins.DnsDot.Rules",
    ];

    /// <summary>
    /// How long the compiler context stays loaded after a round of compiles: edits come in bursts (and a start
    /// validates, then compiles), so they share one load of Roslyn; then it is unloaded.
    /// </summary>
    internal static readonly TimeSpan CompilerIdleRelease = TimeSpan.FromSeconds(10);

    private static readonly Lock CompilerLock = new();
    private static readonly Timer IdleTimer = new(_ => ReleaseCompiler(idleOnly: true), null, Timeout.Infinite, Timeout.Infinite);
    private static CompilerLoadContext? s_compiler;
    private static CompilerLoadContext.EmitFunction? s_emit;
    private static string? s_compilerDirectory;
    private static long s_lastUse;

    /// <summary>
    /// What the compiler emitted for a script this round, by folder, path and exact text: a start validates the
    /// scripts (IGatewayPlugin.Validate), then StartAsync compiles them again, and a warm Roslyn still takes
    /// ~0.6 s for the three example scripts (BENCHMARKS.md, "Start-up"). Only clean emits are kept; the entries
    /// live as long as the compiler context (released with it after <see cref="CompilerIdleRelease"/>), and at most
    /// <see cref="EmitCacheBytes"/> of images. The image is loaded and run again for each use, so every rule set
    /// still gets its own context, metrics and globals.
    /// </summary>
    private static readonly Dictionary<(string Directory, string Path, string Code), Emitted> EmitCache = [];
    private static long s_emitCacheBytes;

    /// <summary>The most image + PDB bytes the emit cache keeps (a larger script is compiled each time).</summary>
    internal const long EmitCacheBytes = 16 << 20;

    /// <summary>Scripts compiled by Roslyn so far (not served from the emit cache); tests count them.</summary>
    internal static long Emits => Interlocked.Read(ref s_emits);

    private static long s_emits;

    private sealed record Emitted(bool Empty, byte[]? Image, byte[]? Pdb, string? EntryType, string? EntryMethod);

    /// <summary>The compiler context released last (tests check that it unloads).</summary>
    internal static WeakReference? LastCompilerContext { get; private set; }

    /// <summary>The result of compiling and running a set of scripts: a rule set, or the errors.</summary>
    /// <param name="RuleSet">The rules, or null when there were errors.</param>
    /// <param name="Errors">Every problem, with the script's file:line:col.</param>
    /// <param name="GroupScripts">Upstream groups named by Forward declarations, with the script naming each.</param>
    internal sealed record Result(RuleSet? RuleSet, IReadOnlyList<PluginConfigError> Errors, IReadOnlyDictionary<string, (string Script, int Line, int Column)>? GroupScripts = null);

    /// <summary>
    /// Compiles and runs <paramref name="files"/> (in order) into one rule set. On any error the new context is
    /// unloaded and every error is returned with the script's file:line:col.
    /// </summary>
    /// <param name="files">The scripts, in order.</param>
    /// <param name="metrics">Rule counters for the new rule set.</param>
    /// <param name="failures">Where rule failures at query time are reported.</param>
    /// <param name="pluginDirectory">The plugin's folder (where the compiler and Roslyn are), or null/empty to use this assembly's.</param>
    /// <param name="lists">The configured lists scripts may name (<c>BlockList("ads")</c>), or null.</param>
    public static Result CompileAll(IReadOnlyList<string> files, RuleMetrics metrics, RuleFailureReporter failures, string? pluginDirectory = null, Lists.IListCatalog? lists = null)
    {
        var errors = new List<PluginConfigError>();
        var builder = new RuleSetBuilder { Lists = lists };
        ScriptLoadContext? context = files.Count > 0 ? new ScriptLoadContext() : null;
        if (files.Count > 0)
        {
            lock (CompilerLock)
            {
                if (AcquireCompiler(pluginDirectory, files, errors) is { } emit)
                {
                    foreach (string file in files)
                    {
                        try
                        {
                            CompileAndRun(file, builder, context!, errors, emit, pluginDirectory ?? "");
                        }
                        catch (Exception exception) when (exception is not OutOfMemoryException)
                        {
                            // Not the script's fault (a missing framework file, an unloadable reference): reported, never thrown.
                            errors.Add(new PluginConfigError(null, $"the script could not be compiled: {exception.GetType().Name}: {exception.Message}", file, 1, 1));
                        }
                    }
                }

                s_lastUse = Environment.TickCount64;
                IdleTimer.Change(CompilerIdleRelease, Timeout.InfiniteTimeSpan);
            }
        }

        if (errors.Count > 0)
        {
            context?.Unload();
            return new Result(null, errors);
        }

        return new Result(builder.Build(metrics, failures, context), errors, builder.GroupScripts);
    }

    /// <summary>
    /// Unloads the compiler context (now, or with <paramref name="idleOnly"/> only when it was idle for
    /// <see cref="CompilerIdleRelease"/>), then collects it and gives the freed memory back to the OS (a compacting,
    /// decommitting collection): Roslyn allocates tens of MB per round that would otherwise stay committed.
    /// Compiles are rare (start-up and script edits), so the cost of a full collection is paid rarely.
    /// </summary>
    internal static void ReleaseCompiler(bool idleOnly = false)
    {
        lock (CompilerLock)
        {
            if (s_compiler is null)
            {
                return;
            }

            long idle = Environment.TickCount64 - s_lastUse;
            if (idleOnly && idle < (long)CompilerIdleRelease.TotalMilliseconds)
            {
                IdleTimer.Change(TimeSpan.FromMilliseconds((long)CompilerIdleRelease.TotalMilliseconds - idle), Timeout.InfiniteTimeSpan);
                return;
            }

            UnloadCompiler();
        }

        // An unloaded context is freed over several collections (its scout object is finalized, then the native
        // side goes); an idle gateway would not collect again for a long time, so drive it here, bounded.
        WeakReference unloaded = LastCompilerContext!;
        for (int round = 0; round < 20 && unloaded.IsAlive; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    // Not inlined, like AcquireCompiler: no stack slot of a caller keeps the context alive after it is unloaded.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void UnloadCompiler()
    {
        LastCompilerContext = new WeakReference(s_compiler);
        s_compiler!.Unload();
        (s_compiler, s_emit, s_compilerDirectory) = (null, null, null);
        EmitCache.Clear();
        s_emitCacheBytes = 0;
    }

    /// <summary>The emit function of the loaded compiler context (loaded now if needed), or null with an error per file.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CompilerLoadContext.EmitFunction? AcquireCompiler(string? pluginDirectory, IReadOnlyList<string> files, List<PluginConfigError> errors)
    {
        string directory = pluginDirectory ?? "";
        if (s_compiler is not null && s_compilerDirectory == directory)
        {
            return s_emit;
        }

        if (s_compiler is not null)
        {
            UnloadCompiler();
        }

        try
        {
            (s_compiler, s_emit) = CompilerLoadContext.Create([directory, Path.GetDirectoryName(typeof(ScriptCompiler).Assembly.Location) ?? "", AppContext.BaseDirectory]);
            s_compilerDirectory = directory;
            return s_emit;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            foreach (string file in files)
            {
                errors.Add(new PluginConfigError(null, $"the script could not be compiled: {exception.GetType().Name}: {exception.Message}", file, 1, 1));
            }

            return null;
        }
    }

    private static void CompileAndRun(string path, RuleSetBuilder builder, ScriptLoadContext context, List<PluginConfigError> errors, CompilerLoadContext.EmitFunction emit, string directory)
    {
        string code;
        try
        {
            code = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            errors.Add(new PluginConfigError(null, $"cannot read the rule script: {exception.Message}", path, 1, 1));
            return;
        }

        var emitErrors = new List<(string Message, string File, int Line, int Column)>();
        (bool empty, byte[]? image, byte[]? pdb, string? entryType, string? entryMethod) = Emit(directory, path, code, emit, emitErrors);
        foreach ((string message, string file, int line, int column) in emitErrors)
        {
            errors.Add(new PluginConfigError(null, message, file, line, column));
        }

        if (empty)
        {
            // Nothing to run (empty or comments only; also a file caught half-written by an editor).
            builder.BeginFile(path);
            return;
        }

        if (emitErrors.Count > 0 || image is null || entryType is null || entryMethod is null)
        {
            return;
        }

        Func<object[], Task<object>> entry = Load(context, image, pdb, entryType, entryMethod);
        builder.BeginFile(path);
        Run(path, entry, new RuleScriptGlobals(builder, path), errors);
    }

    /// <summary>The emitted script from <see cref="EmitCache"/> when this exact text was compiled this round, else from Roslyn.</summary>
    private static Emitted Emit(string directory, string path, string code, CompilerLoadContext.EmitFunction emit, List<(string Message, string File, int Line, int Column)> emitErrors)
    {
        var key = (directory, path, code);
        if (EmitCache.TryGetValue(key, out Emitted? cached))
        {
            return cached;
        }

        Interlocked.Increment(ref s_emits);
        (bool empty, byte[]? image, byte[]? pdb, string? entryType, string? entryMethod) =
            emit(path, code, typeof(RuleScriptGlobals), [typeof(DnsQuery).Assembly, typeof(NetAddress).Assembly], FrameworkReferences, Imports, emitErrors);
        var emitted = new Emitted(empty, image, pdb, entryType, entryMethod);
        long bytes = (image?.LongLength ?? 0) + (pdb?.LongLength ?? 0) + code.Length * sizeof(char);
        if (emitErrors.Count == 0 && s_emitCacheBytes + bytes <= EmitCacheBytes)
        {
            EmitCache[key] = emitted;
            s_emitCacheBytes += bytes;
        }

        return emitted;
    }

    /// <summary>Loads an emitted script into the rules' context and returns its entry point.</summary>
    private static Func<object[], Task<object>> Load(ScriptLoadContext context, byte[] image, byte[]? pdb, string entryType, string entryMethod)
    {
        using var peStream = new MemoryStream(image, writable: false);
        using var pdbStream = pdb is null ? null : new MemoryStream(pdb, writable: false);
        Assembly assembly = context.LoadFromStream(peStream, pdbStream);
        MethodInfo factory = assembly.GetType(entryType, throwOnError: true)!.GetMethod(entryMethod, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"script entry point {entryType}.{entryMethod} not found");
        return factory.CreateDelegate<Func<object[], Task<object>>>();
    }

    /// <summary>Runs the script's body once, with the globals as submission 0 (Roslyn's script calling convention).</summary>
    /// <remarks>
    /// On a dedicated thread that ends with the script, so a script that never returns is reported instead of
    /// hanging reloads, and no pool thread or task keeps a reference to the script's code (which would keep its
    /// collectible context from unloading).
    /// </remarks>
    private static void Run(string path, Func<object[], Task<object>> entry, RuleScriptGlobals globals, List<PluginConfigError> errors)
    {
        var runner = new ScriptRunner(entry, globals);
        var thread = new Thread(runner.Execute) { IsBackground = true, Name = "dns-dot rule script" };
        thread.Start();
        if (!thread.Join(RunTimeout))
        {
            errors.Add(new PluginConfigError(null, $"the script did not finish within {RunTimeout.TotalSeconds:0} s at load time (a loop that never ends?)", path, 1, 1));
            return;
        }

        if (runner.Failure is { } exception)
        {
            (int line, int column) = ScriptPosition(exception, path);
            errors.Add(new PluginConfigError(null, $"the script failed at load time: {exception.GetType().Name}: {exception.Message}", path, line, column));
        }
    }

    /// <summary>The deepest stack frame inside the script (the PDB emitted with it gives lines), else 1:1.</summary>
    private static (int Line, int Column) ScriptPosition(Exception exception, string path)
    {
        var trace = new StackTrace(exception, fNeedFileInfo: true);
        foreach (StackFrame frame in trace.GetFrames())
        {
            if (string.Equals(frame.GetFileName(), path, StringComparison.Ordinal) && frame.GetFileLineNumber() > 0)
            {
                return (frame.GetFileLineNumber(), Math.Max(1, frame.GetFileColumnNumber()));
            }
        }

        return (1, 1);
    }

    /// <summary>The state of one script run on its own thread; dropped with the thread.</summary>
    private sealed class ScriptRunner(Func<object[], Task<object>> entry, RuleScriptGlobals globals)
    {
        public Exception? Failure { get; private set; }

        public void Execute()
        {
            try
            {
                entry([globals, null!]).GetAwaiter().GetResult();
            }
            catch (Exception exception)
            {
                Failure = exception is TargetInvocationException { InnerException: { } inner } ? inner : exception;
            }
        }
    }
}
