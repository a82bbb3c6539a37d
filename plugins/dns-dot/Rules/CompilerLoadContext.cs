using System.Reflection;
using System.Runtime.Loader;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// The collectible context Roslyn runs in for one round of rule compiles: it loads
/// Gateway.Plugins.DnsDot.Compiler and Roslyn from the plugin's folder and is unloaded as soon as the scripts are
/// compiled, so Roslyn's code and data (tens of MB) are not resident while the gateway serves queries. Everything
/// else (the framework) comes from the default context; the compiler's boundary uses framework types only.
/// </summary>
internal sealed class CompilerLoadContext : AssemblyLoadContext
{
    /// <summary>The compiler assembly's name (also its file name without .dll).</summary>
    public const string CompilerAssembly = "Gateway.Plugins.DnsDot.Compiler";

    private readonly string _directory;

    private CompilerLoadContext(string directory)
        : base("dns-dot rule compiler", isCollectible: true)
    {
        _directory = directory;
    }

    /// <summary>Compiles one script (see the compiler's RuleScriptEmitter.Emit for the parameters).</summary>
    public delegate (bool Empty, byte[]? Image, byte[]? Pdb, string? EntryType, string? EntryMethod) EmitFunction(
        string path,
        string code,
        string assemblyName,
        Type globalsType,
        Assembly[] references,
        string[] frameworkReferences,
        string[] imports,
        List<(string Message, string File, int Line, int Column)> errors);

    /// <summary>
    /// Creates a context over the first of <paramref name="candidates"/> that holds the compiler assembly, and the
    /// emit function in it; throws <see cref="FileNotFoundException"/> naming the folders searched when none does.
    /// </summary>
    public static (CompilerLoadContext Context, EmitFunction Emit) Create(IEnumerable<string> candidates)
    {
        string directory = FindDirectory(candidates);
        var context = new CompilerLoadContext(directory);
        Assembly assembly = context.LoadFromAssemblyPath(Path.Combine(directory, CompilerAssembly + ".dll"));
        MethodInfo method = assembly.GetType(CompilerAssembly + ".RuleScriptEmitter", throwOnError: true)!.GetMethod("Emit")
            ?? throw new MissingMethodException(CompilerAssembly + ".RuleScriptEmitter", "Emit");
        return (context, method.CreateDelegate<EmitFunction>());
    }

    /// <summary>
    /// The first of <paramref name="candidates"/> that holds the compiler assembly (the folder <see cref="Create"/>
    /// loads it from); throws <see cref="FileNotFoundException"/> naming the folders searched when none does.
    /// </summary>
    public static string FindDirectory(IEnumerable<string> candidates)
    {
        var searched = new List<string>();
        foreach (string directory in candidates)
        {
            if (string.IsNullOrEmpty(directory))
            {
                continue;
            }

            searched.Add(directory);
            if (File.Exists(Path.Combine(directory, CompilerAssembly + ".dll")))
            {
                return directory;
            }
        }

        throw new FileNotFoundException($"{CompilerAssembly}.dll (the rule compiler, shipped with the dns-dot plugin) was not found in {string.Join(", ", searched)}; reinstall the plugin folder");
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        // Roslyn and the compiler from the plugin's folder; the framework (and anything else) from the default context.
        string? name = assemblyName.Name;
        if (name is null || !(name == CompilerAssembly || name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal)))
        {
            return null;
        }

        string path = Path.Combine(_directory, name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
