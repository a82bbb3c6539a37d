using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Scripting;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Compiles rule scripts with Roslyn, loads them into a fresh <see cref="ScriptLoadContext"/>, and runs them
/// once to collect their rules. Nothing Roslyn made outlives a call (the compilation, syntax trees and
/// metadata references are dropped), so the GC can reclaim them: Roslyn is heavy and the gateway is not.
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

    /// <summary>The result of compiling and running a set of scripts: a rule set, or the errors.</summary>
    /// <param name="RuleSet">The rules, or null when there were errors.</param>
    /// <param name="Errors">Every problem, with the script's file:line:col.</param>
    /// <param name="GroupScripts">Upstream groups named by Forward declarations, with the script naming each.</param>
    internal sealed record Result(RuleSet? RuleSet, IReadOnlyList<PluginConfigError> Errors, IReadOnlyDictionary<string, (string Script, int Line, int Column)>? GroupScripts = null);

    /// <summary>
    /// Compiles and runs <paramref name="files"/> (in order) into one rule set. On any error the new context is
    /// unloaded and every error is returned with the script's file:line:col.
    /// </summary>
    public static Result CompileAll(IReadOnlyList<string> files, RuleMetrics metrics, RuleFailureReporter failures)
    {
        var errors = new List<PluginConfigError>();
        var builder = new RuleSetBuilder();
        ScriptLoadContext? context = files.Count > 0 ? new ScriptLoadContext() : null;
        foreach (string file in files)
        {
            try
            {
                CompileAndRun(file, builder, context!, errors);
            }
            catch (Exception exception) when (exception is not OutOfMemoryException)
            {
                // Not the script's fault (a missing framework file, an unloadable reference): still reported, never thrown.
                errors.Add(new PluginConfigError(null, $"the script could not be compiled: {exception.GetType().Name}: {exception.Message}", file, 1, 1));
            }
        }

        if (errors.Count > 0)
        {
            context?.Unload();
            return new Result(null, errors);
        }

        return new Result(builder.Build(metrics, failures, context), errors, builder.GroupScripts);
    }

    // Not inlined: every Roslyn object lives in this frame only, so it is garbage once the call returns.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CompileAndRun(string path, RuleSetBuilder builder, ScriptLoadContext context, List<PluginConfigError> errors)
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

        if (!RefuseDirectives(path, code, errors, out bool empty))
        {
            return;
        }

        if (empty)
        {
            // Nothing to run (empty or comments only; also a file caught half-written by an editor). Roslyn
            // emits an image for an empty submission that the runtime refuses to load, so it is not compiled.
            builder.BeginFile(path);
            return;
        }

        Func<object[], Task<object>>? entry = Emit(path, code, context, errors);
        if (entry is null)
        {
            return;
        }

        builder.BeginFile(path);
        Run(path, entry, new RuleScriptGlobals(builder, path), errors);
    }

    /// <summary>Scripts are configuration (DESIGN §7): no <c>#r</c> and no <c>#load</c>, checked before compiling.</summary>
    private static bool RefuseDirectives(string path, string code, List<PluginConfigError> errors, out bool empty)
    {
        SyntaxTree tree = CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script), path);
        var root = (CompilationUnitSyntax)tree.GetRoot();
        empty = root.Members.Count == 0 && root.Usings.Count == 0 && root.AttributeLists.Count == 0 && !root.ContainsDiagnostics;
        int before = errors.Count;
        foreach (ReferenceDirectiveTriviaSyntax directive in root.GetReferenceDirectives())
        {
            AddError(errors, path, directive.GetLocation(), "#r is not allowed in rule scripts (scripts are configuration; the rule API and the framework are already referenced)");
        }

        foreach (LoadDirectiveTriviaSyntax directive in root.GetLoadDirectives())
        {
            AddError(errors, path, directive.GetLocation(), "#load is not allowed in rule scripts; list every script in dns-dot.rules instead (they run in order)");
        }

        return errors.Count == before;
    }

    private static Func<object[], Task<object>>? Emit(string path, string code, ScriptLoadContext context, List<PluginConfigError> errors)
    {
        ScriptOptions options = ScriptOptions.Default
            .WithFilePath(path)
            .WithFileEncoding(Encoding.UTF8)
            .WithReferences(References())
            .WithImports(Imports)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithAllowUnsafe(false)
            .WithEmitDebugInformation(true);
        Script<object> script = CSharpScript.Create<object>(code, options, typeof(RuleScriptGlobals));
        Compilation compilation = script.GetCompilation();

        using var pe = new MemoryStream();
        using var pdb = new MemoryStream();
        EmitResult result = compilation.Emit(pe, pdb, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.PortablePdb));
        bool failed = false;
        foreach (Diagnostic diagnostic in result.Diagnostics)
        {
            if (diagnostic.Severity == DiagnosticSeverity.Error)
            {
                failed = true;
                AddError(errors, path, diagnostic.Location, $"{diagnostic.Id}: {diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}");
            }
        }

        if (failed)
        {
            return null;
        }

        IMethodSymbol entryPoint = compilation.GetEntryPoint(CancellationToken.None)
            ?? throw new InvalidOperationException("a compiled script has no entry point");
        string typeName = entryPoint.ContainingNamespace.IsGlobalNamespace
            ? entryPoint.ContainingType.MetadataName
            : $"{entryPoint.ContainingNamespace.ToDisplayString()}.{entryPoint.ContainingType.MetadataName}";

        pe.Position = 0;
        pdb.Position = 0;
        Assembly assembly = context.LoadFromStream(pe, pdb);
        MethodInfo factory = assembly.GetType(typeName, throwOnError: true)!.GetMethod(entryPoint.MetadataName, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"script entry point {typeName}.{entryPoint.MetadataName} not found");
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

    private static void AddError(List<PluginConfigError> errors, string path, Location location, string message)
    {
        FileLinePositionSpan span = location.GetMappedLineSpan();
        string file = span.IsValid && !string.IsNullOrEmpty(span.Path) ? span.Path : path;
        int line = span.IsValid ? span.StartLinePosition.Line + 1 : 1;
        int column = span.IsValid ? span.StartLinePosition.Character + 1 : 1;
        errors.Add(new PluginConfigError(null, message, file, line, column));
    }

    /// <summary>
    /// The framework assemblies scripts may use, this plugin and the SDK. Created per compile and dropped after
    /// (metadata references hold the assemblies' bytes).
    /// </summary>
    private static ImmutableArray<MetadataReference> References()
    {
        var references = ImmutableArray.CreateBuilder<MetadataReference>();
        string frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        foreach (string name in FrameworkReferences)
        {
            string file = Path.Combine(frameworkDirectory, name + ".dll");
            if (File.Exists(file))
            {
                references.Add(MetadataReference.CreateFromFile(file));
            }
        }

        foreach (Assembly assembly in (Assembly[])[typeof(DnsQuery).Assembly, typeof(NetAddress).Assembly])
        {
            if (string.IsNullOrEmpty(assembly.Location))
            {
                throw new InvalidOperationException($"{assembly.GetName().Name} was loaded from memory, so scripts cannot reference it; load the plugin from its file");
            }

            references.Add(MetadataReference.CreateFromFile(assembly.Location));
        }

        return references.ToImmutable();
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
