using System.Collections.Immutable;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Text;

namespace Gateway.Plugins.DnsDot.Compiler;

/// <summary>
/// Compiles one rule script to an assembly image with Roslyn. Called by the dns-dot plugin through a delegate
/// across load contexts, so every parameter and result is a framework type.
/// </summary>
public static class RuleScriptEmitter
{
    private static readonly CSharpParseOptions ScriptParseOptions = new(LanguageVersion.Latest, kind: SourceCodeKind.Script);

    /// <summary>
    /// Parses <paramref name="code"/> as a C# script of <paramref name="path"/>, refuses <c>#r</c> and <c>#load</c>,
    /// and emits it (Release, with a portable PDB so load-time failures have lines).
    /// </summary>
    /// <param name="path">The script's path, used in diagnostics and the PDB.</param>
    /// <param name="code">The script's text.</param>
    /// <param name="assemblyName">
    /// The emitted assembly's name: unique per script text, since the scripts of one rule set share a load context
    /// and an image may come from an earlier process (the plugin's compiled-script cache).
    /// </param>
    /// <param name="globalsType">The type whose members the script sees as globals.</param>
    /// <param name="references">Assemblies the script may use besides the framework ones in <paramref name="frameworkReferences"/>.</param>
    /// <param name="frameworkReferences">Names of framework assemblies (in the runtime's directory) to reference.</param>
    /// <param name="imports">Namespaces imported into the script.</param>
    /// <param name="errors">Receives every error as (message, file, line, column), one-based.</param>
    /// <returns>
    /// Empty: true when the script has nothing to run (no image then). Otherwise the image, its PDB and the entry
    /// point (type and method name), or nulls when <paramref name="errors"/> got entries.
    /// </returns>
    public static (bool Empty, byte[]? Image, byte[]? Pdb, string? EntryType, string? EntryMethod) Emit(
        string path,
        string code,
        string assemblyName,
        Type globalsType,
        Assembly[] references,
        string[] frameworkReferences,
        string[] imports,
        List<(string Message, string File, int Line, int Column)> errors)
    {
        if (!RefuseDirectives(path, code, errors, out bool empty))
        {
            return (false, null, null, null, null);
        }

        if (empty)
        {
            // Roslyn emits an image for an empty submission that the runtime refuses to load: nothing to compile.
            return (true, null, null, null, null);
        }

        // The compilation the Scripting layer (CSharpScript) would make, made directly: CSharpScript creates an
        // InteractiveAssemblyLoader, whose non-collectible load context would keep this collectible one (and Roslyn)
        // loaded for good.
        SyntaxTree tree = CSharpSyntaxTree.ParseText(SourceText.From(code, Encoding.UTF8), ScriptParseOptions, path);
        var options = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            scriptClassName: "Submission#0",
            usings: imports,
            optimizationLevel: OptimizationLevel.Release,
            allowUnsafe: false,
            concurrentBuild: false);
        Compilation compilation = CSharpCompilation.CreateScriptCompilation(
            assemblyName,
            tree,
            References(references, frameworkReferences),
            options,
            previousScriptCompilation: null,
            returnType: typeof(object),
            globalsType: globalsType);

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
            return (false, null, null, null, null);
        }

        IMethodSymbol entryPoint = compilation.GetEntryPoint(CancellationToken.None)
            ?? throw new InvalidOperationException("a compiled script has no entry point");
        string typeName = entryPoint.ContainingNamespace.IsGlobalNamespace
            ? entryPoint.ContainingType.MetadataName
            : $"{entryPoint.ContainingNamespace.ToDisplayString()}.{entryPoint.ContainingType.MetadataName}";
        return (false, pe.ToArray(), pdb.ToArray(), typeName, entryPoint.MetadataName);
    }

    /// <summary>Scripts are configuration (DESIGN §7): no <c>#r</c> and no <c>#load</c>, checked before compiling.</summary>
    private static bool RefuseDirectives(string path, string code, List<(string, string, int, int)> errors, out bool empty)
    {
        SyntaxTree tree = CSharpSyntaxTree.ParseText(code, ScriptParseOptions, path);
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

    private static void AddError(List<(string, string, int, int)> errors, string path, Location location, string message)
    {
        FileLinePositionSpan span = location.GetMappedLineSpan();
        string file = span.IsValid && !string.IsNullOrEmpty(span.Path) ? span.Path : path;
        int line = span.IsValid ? span.StartLinePosition.Line + 1 : 1;
        int column = span.IsValid ? span.StartLinePosition.Character + 1 : 1;
        errors.Add((message, file, line, column));
    }

    /// <summary>The framework assemblies scripts may use and the given ones, created per compile and dropped after.</summary>
    private static ImmutableArray<MetadataReference> References(Assembly[] assemblies, string[] frameworkReferences)
    {
        var references = ImmutableArray.CreateBuilder<MetadataReference>();
        string frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        foreach (string name in frameworkReferences)
        {
            string file = Path.Combine(frameworkDirectory, name + ".dll");
            if (File.Exists(file))
            {
                references.Add(MetadataReference.CreateFromFile(file));
            }
        }

        foreach (Assembly assembly in assemblies)
        {
            references.Add(ReferenceTo(assembly));
        }

        return references.ToImmutable();
    }

    /// <summary>
    /// A reference to a loaded assembly. The host loads plugins from memory (so their files can be replaced while
    /// they run), leaving no file to read: then the runtime's own copy of the metadata is referenced, which stays
    /// valid while the assembly is loaded, and the caller keeps it loaded while it compiles against it.
    /// </summary>
    private static unsafe MetadataReference ReferenceTo(Assembly assembly)
    {
        if (!string.IsNullOrEmpty(assembly.Location))
        {
            return MetadataReference.CreateFromFile(assembly.Location);
        }

        if (!System.Reflection.Metadata.AssemblyExtensions.TryGetRawMetadata(assembly, out byte* blob, out int length))
        {
            throw new InvalidOperationException($"the metadata of {assembly.GetName().Name} cannot be read, so scripts cannot reference it");
        }

        return AssemblyMetadata.Create(ModuleMetadata.CreateFromMetadata((IntPtr)blob, length)).GetReference();
    }
}
