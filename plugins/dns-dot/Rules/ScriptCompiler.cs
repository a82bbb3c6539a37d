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
/// the round of compiles ends: Roslyn is heavy (tens of MB of code and data) and the gateway is not. With a
/// <see cref="ScriptCache"/>, a script compiled by an earlier run (same text, compiler and references) is loaded
/// from disk, and Roslyn is loaded only when some script misses.
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

    /// <summary>Held for a whole round of compiles (tests hold it to keep a start's background compile in its window).</summary>
    internal static readonly Lock CompilerLock = new();
    private static readonly Timer IdleTimer = new(_ => ReleaseCompiler(idleOnly: true), null, Timeout.Infinite, Timeout.Infinite);
    private static CompilerLoadContext? s_compiler;
    private static CompilerLoadContext.EmitFunction? s_emit;
    private static string? s_compilerDirectory;
    private static long s_lastUse;

    /// <summary>
    /// What the compiler emitted for a script this round, by the script's key (<see cref="ScriptCache.Key"/>): a
    /// start validates the scripts (IGatewayPlugin.Validate), then StartAsync compiles them again, and a warm Roslyn
    /// still takes ~0.6 s for the three example scripts (BENCHMARKS.md, "Start-up"). Only clean emits are kept; the
    /// entries live as long as the compiler context (released with it after <see cref="CompilerIdleRelease"/>), and
    /// at most <see cref="EmitCacheBytes"/> of images. The image is loaded and run again for each use, so every rule
    /// set still gets its own context, metrics and globals.
    /// </summary>
    private static readonly Dictionary<string, Emitted> EmitCache = new(StringComparer.Ordinal);

    /// <summary>The compile inputs of <see cref="Inputs"/> per compiler folder, with the file stamps they were computed for.</summary>
    private static readonly Dictionary<string, (string Stamp, string Inputs)> InputsByDirectory = new(StringComparer.Ordinal);
    private static long s_emitCacheBytes;

    /// <summary>The most image + PDB bytes the emit cache keeps (a larger script is compiled each time).</summary>
    internal const long EmitCacheBytes = 16 << 20;

    /// <summary>Scripts compiled by Roslyn so far (not served from the emit cache); tests count them.</summary>
    internal static long Emits => Interlocked.Read(ref s_emits);

    private static long s_emits;

    /// <summary>What the compiler emitted for one script (also what <see cref="ScriptCache"/> keeps).</summary>
    /// <param name="Empty">True when the script has nothing to run (no image then).</param>
    /// <param name="Image">The assembly image.</param>
    /// <param name="Pdb">Its portable PDB (lines for load-time failures).</param>
    /// <param name="EntryType">The script class's full name.</param>
    /// <param name="EntryMethod">Its factory method.</param>
    internal sealed record Emitted(bool Empty, byte[]? Image, byte[]? Pdb, string? EntryType, string? EntryMethod);

    /// <summary>Whether Roslyn is loaded now (tests check that scripts from the cache never load it).</summary>
    internal static bool CompilerLoaded
    {
        get
        {
            lock (CompilerLock)
            {
                return s_compiler is not null;
            }
        }
    }

    /// <summary>The compiler context released last (tests check that it unloads).</summary>
    internal static WeakReference? LastCompilerContext { get; private set; }

    /// <summary>The result of compiling and running a set of scripts: a rule set, or the errors.</summary>
    /// <param name="RuleSet">The rules, or null when there were errors.</param>
    /// <param name="Errors">Every problem, with the script's file:line:col.</param>
    /// <param name="GroupScripts">Upstream groups named by Forward declarations, with the script naming each.</param>
    internal sealed record Result(RuleSet? RuleSet, IReadOnlyList<PluginConfigError> Errors, IReadOnlyDictionary<string, (string Script, int Line, int Column)>? GroupScripts = null)
    {
        /// <summary>Scripts loaded from the <see cref="ScriptCache"/> (no compiler needed for them).</summary>
        public int FromCache { get; init; }

        /// <summary>Scripts compiled by Roslyn.</summary>
        public int Compiled { get; init; }

        /// <summary>The first problem with the cache (an unusable entry, a failed write), or null; never an error of the scripts.</summary>
        public string? CacheProblem { get; init; }

        /// <summary>
        /// With the compiler not allowed: true when a script had no cached image (no rule set then; the remaining
        /// scripts were not tried).
        /// </summary>
        public bool NeedsCompiler { get; init; }
    }

    /// <summary>
    /// Compiles and runs <paramref name="files"/> (in order) into one rule set. On any error the new context is
    /// unloaded and every error is returned with the script's file:line:col.
    /// </summary>
    /// <param name="files">The scripts, in order.</param>
    /// <param name="metrics">Rule counters for the new rule set.</param>
    /// <param name="failures">Where rule failures at query time are reported.</param>
    /// <param name="pluginDirectory">The plugin's folder (where the compiler and Roslyn are), or null/empty to use this assembly's.</param>
    /// <param name="lists">The configured lists scripts may name (<c>BlockList("ads")</c>), or null.</param>
    /// <param name="cache">Where compiled scripts are kept between runs, or null to compile every script.</param>
    /// <param name="compilerAllowed">
    /// False: use only images already emitted (this run's, or the cache's) and never load Roslyn; the first script
    /// without one ends the round with <see cref="Result.NeedsCompiler"/> (a start that compiles in the background).
    /// </param>
    public static Result CompileAll(IReadOnlyList<string> files, RuleMetrics metrics, RuleFailureReporter failures, string? pluginDirectory = null, Lists.IListCatalog? lists = null, ScriptCache? cache = null, bool compilerAllowed = true)
    {
        var errors = new List<PluginConfigError>();
        var builder = new RuleSetBuilder { Lists = lists };
        ScriptLoadContext? context = files.Count > 0 ? new ScriptLoadContext() : null;
        var round = new Round(pluginDirectory ?? "", cache) { CompilerAllowed = compilerAllowed };
        if (files.Count > 0)
        {
            lock (CompilerLock)
            {
                foreach (string file in files)
                {
                    try
                    {
                        CompileAndRun(file, builder, context!, errors, round);
                    }
                    catch (Exception exception) when (exception is not OutOfMemoryException)
                    {
                        // Not the script's fault (a missing compiler or framework file, an unloadable reference): reported, never thrown.
                        errors.Add(new PluginConfigError(null, $"the script could not be compiled: {exception.GetType().Name}: {exception.Message}", file, 1, 1));
                    }

                    if (round.NeedsCompiler)
                    {
                        break;
                    }
                }

                if (s_compiler is not null)
                {
                    s_lastUse = Environment.TickCount64;
                    IdleTimer.Change(CompilerIdleRelease, Timeout.InfiniteTimeSpan);
                }
            }
        }

        if (errors.Count > 0 || round.NeedsCompiler)
        {
            context?.Unload();
            return new Result(null, errors) { FromCache = round.FromCache, Compiled = round.Compiled, CacheProblem = round.CacheProblem, NeedsCompiler = round.NeedsCompiler };
        }

        return new Result(builder.Build(metrics, failures, context), errors, builder.GroupScripts) { FromCache = round.FromCache, Compiled = round.Compiled, CacheProblem = round.CacheProblem };
    }

    /// <summary>
    /// Unloads the compiler context (now, or with <paramref name="idleOnly"/> only when it was idle for
    /// <see cref="CompilerIdleRelease"/>), then collects it and gives the freed memory back to the OS (a compacting,
    /// decommitting collection): Roslyn allocates tens of MB per round that would otherwise stay committed.
    /// Compiles are rare (start-up and script edits), so the cost of a full collection is paid rarely.
    /// </summary>
    /// <param name="idleOnly">Only when idle for <see cref="CompilerIdleRelease"/> (the idle timer).</param>
    /// <param name="waitForCompile">
    /// False: when a round of compiles runs now (a start's background compile), return at once; its end arms the idle
    /// release (a plugin stopping during the window does not wait seconds for Roslyn).
    /// </param>
    internal static void ReleaseCompiler(bool idleOnly = false, bool waitForCompile = true)
    {
        if (!CompilerLock.TryEnter(idleOnly || !waitForCompile ? TimeSpan.Zero : Timeout.InfiniteTimeSpan))
        {
            return;
        }

        try
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
        finally
        {
            CompilerLock.Exit();
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

        // The unloaded context's native side (its loader heaps, Roslyn's metadata readers) went back to glibc's
        // arenas, not to the OS: trimmed as after a rule-set unload, or a cold start idles with it resident.
        NativeMemory.Trim();
    }

    /// <summary>Drops the images emitted this round but keeps Roslyn loaded (tests: a new process's memory, without a cold compiler).</summary>
    internal static void ForgetEmitted()
    {
        lock (CompilerLock)
        {
            EmitCache.Clear();
            s_emitCacheBytes = 0;
        }
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

    /// <summary>The emit function of the loaded compiler context (loaded now if needed); throws when the compiler cannot be loaded.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static CompilerLoadContext.EmitFunction AcquireCompiler(string directory)
    {
        if (s_compiler is not null && s_compilerDirectory == directory)
        {
            return s_emit!;
        }

        if (s_compiler is not null)
        {
            UnloadCompiler();
        }

        (s_compiler, s_emit) = CompilerLoadContext.Create(CompilerCandidates(directory));
        s_compilerDirectory = directory;
        return s_emit;
    }

    /// <summary>The folders the compiler is looked for in: the plugin's, this assembly's, the host's.</summary>
    private static string[] CompilerCandidates(string directory) =>
        [directory, Path.GetDirectoryName(typeof(ScriptCompiler).Assembly.Location) ?? "", AppContext.BaseDirectory];

    /// <summary>
    /// Everything but the script that determines what the compiler emits, as text for <see cref="ScriptCache.Key"/>:
    /// the compiler's own files (Roslyn's version and the emit options live in them, so they are hashed whole), the
    /// MVIDs of the assemblies scripts reference (this plugin and the SDK, loaded from memory, so no file to hash),
    /// the framework's version and folder, the framework references, imports and globals type, and the format.
    /// Hashing Roslyn (~10 MB) takes milliseconds; the result is kept per folder while the files' sizes and write
    /// times stay the same.
    /// </summary>
    private static string Inputs(string directory)
    {
        string compilerDirectory = CompilerLoadContext.FindDirectory(CompilerCandidates(directory));
        string[] compilerFiles = Directory.GetFiles(compilerDirectory, "*.dll");
        compilerFiles = Array.FindAll(compilerFiles, static f => Path.GetFileName(f) is { } name && (name == CompilerLoadContext.CompilerAssembly + ".dll" || name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal)));
        Array.Sort(compilerFiles, StringComparer.Ordinal);
        var stamp = new StringBuilder();
        foreach (string file in compilerFiles)
        {
            var info = new FileInfo(file);
            stamp.Append(info.Name).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }

        if (InputsByDirectory.TryGetValue(compilerDirectory, out (string Stamp, string Inputs) known) && known.Stamp == stamp.ToString())
        {
            return known.Inputs;
        }

        var inputs = new StringBuilder("dns-dot rule script v1\n");
        using (var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256))
        {
            foreach (string file in compilerFiles)
            {
                // Streamed: Roslyn's files are MBs, and a large array would stay in the heap until the next full collection.
                using FileStream stream = File.OpenRead(file);
                hash.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
                hash.AppendData(System.Security.Cryptography.SHA256.HashData(stream));
            }

            inputs.Append("compiler ").Append(Convert.ToHexStringLower(hash.GetHashAndReset())).Append('\n');
        }

        foreach (Assembly assembly in (ReadOnlySpan<Assembly>)[typeof(DnsQuery).Assembly, typeof(NetAddress).Assembly])
        {
            inputs.Append("reference ").Append(assembly.FullName).Append(' ').Append(assembly.ManifestModule.ModuleVersionId).Append('\n');
        }

        inputs.Append("framework ").Append(Environment.Version).Append(' ').Append(Path.GetDirectoryName(typeof(object).Assembly.Location)).Append('\n');
        inputs.Append("framework references ").AppendJoin(',', FrameworkReferences).Append('\n');
        inputs.Append("imports ").AppendJoin(',', Imports).Append('\n');
        inputs.Append("globals ").Append(typeof(RuleScriptGlobals).AssemblyQualifiedName).Append('\n');
        string text = inputs.ToString();
        InputsByDirectory[compilerDirectory] = (stamp.ToString(), text);
        return text;
    }

    private static void CompileAndRun(string path, RuleSetBuilder builder, ScriptLoadContext context, List<PluginConfigError> errors, Round round)
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
        (bool empty, byte[]? image, byte[]? pdb, string? entryType, string? entryMethod) = Emit(path, code, round, emitErrors);
        if (round.NeedsCompiler)
        {
            return;
        }

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

    /// <summary>
    /// The emitted script: from <see cref="EmitCache"/> when this exact text was compiled while the compiler is
    /// loaded, else from the round's <see cref="ScriptCache"/>, else from Roslyn (then kept in both).
    /// </summary>
    private static Emitted Emit(string path, string code, Round round, List<(string Message, string File, int Line, int Column)> emitErrors)
    {
        byte[] key = ScriptCache.Key(round.Inputs, path, code);
        string name = Convert.ToHexStringLower(key);
        if (EmitCache.TryGetValue(name, out Emitted? cached))
        {
            return cached;
        }

        if (round.Cache is { } cache)
        {
            if (cache.TryRead(key, out string? readProblem) is { } stored)
            {
                round.FromCache++;
                return stored;
            }

            round.CacheProblem ??= readProblem;
        }

        if (!round.CompilerAllowed)
        {
            round.NeedsCompiler = true;
            return new Emitted(true, null, null, null, null);
        }

        CompilerLoadContext.EmitFunction emit = AcquireCompiler(round.Directory);
        Interlocked.Increment(ref s_emits);
        round.Compiled++;

        // Named by the key: the scripts of one rule set share a context, and some of them may come from the cache.
        (bool empty, byte[]? image, byte[]? pdb, string? entryType, string? entryMethod) =
            emit(path, code, "dns-dot-rules-" + name[..32], typeof(RuleScriptGlobals), [typeof(DnsQuery).Assembly, typeof(NetAddress).Assembly], FrameworkReferences, Imports, emitErrors);
        var emitted = new Emitted(empty, image, pdb, entryType, entryMethod);
        if (emitErrors.Count > 0)
        {
            return emitted;
        }

        long bytes = (image?.LongLength ?? 0) + (pdb?.LongLength ?? 0);
        if (s_emitCacheBytes + bytes <= EmitCacheBytes)
        {
            EmitCache[name] = emitted;
            s_emitCacheBytes += bytes;
        }

        if (round.Cache is { } writable && !writable.TryWrite(key, emitted, out string? writeProblem))
        {
            round.CacheProblem ??= writeProblem;
        }

        return emitted;
    }

    /// <summary>One call of <see cref="CompileAll"/>: where the compiler and the cache are, and what came from where.</summary>
    private sealed class Round(string directory, ScriptCache? cache)
    {
        private string? _inputs;

        public string Directory { get; } = directory;

        public ScriptCache? Cache { get; } = cache;

        /// <summary>False: a script without an emitted image sets <see cref="NeedsCompiler"/> instead of loading Roslyn.</summary>
        public bool CompilerAllowed { get; init; } = true;

        public bool NeedsCompiler { get; set; }

        /// <summary>The compile inputs besides the script (<see cref="ScriptCompiler.Inputs"/>), computed once a round.</summary>
        public string Inputs => _inputs ??= ScriptCompiler.Inputs(Directory);

        public int FromCache { get; set; }

        public int Compiled { get; set; }

        public string? CacheProblem { get; set; }
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
