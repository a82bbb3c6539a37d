using System.Runtime.Loader;
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Tests.DnsDot.Rules;

[CollectionDefinition(nameof(RuleEngineUnloadTests), DisableParallelization = true)]
public sealed class RuleEngineUnloadCollection;

/// <summary>Counts loaded assemblies, so it runs alone (no other test compiling scripts meanwhile).</summary>
[Collection(nameof(RuleEngineUnloadTests))]
public sealed class RuleEngineUnloadTests : IDisposable
{
    private readonly RuleScriptFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Reload_HundredTimes_NoAdditionalLoadedAssemblies()
    {
        string path = _folder.Write("rules.csx", """Block("a0.test"); Rule(q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);""");
        using RuleEngine engine = _folder.Start();
        Assert.True(engine.Reload());
        await engine.WaitForUnloadsAsync();
        Collect();
        int collectibleBefore = CollectibleAssemblies().Length;

        for (int i = 1; i <= 100; i++)
        {
            File.WriteAllText(path, $$"""Block("a{{i}}.test"); Rule(q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);""");
            Assert.True(engine.Reload());
        }

        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("a100.test")).Kind);
        await engine.WaitForUnloadsAsync();

        // Unloading is cooperative and finishes on a later GC; a loaded CI box may need a few rounds.
        // Count assemblies in collectible contexts only: the runtime may load framework assemblies lazily
        // meanwhile, which is not a leak.
        for (int round = 0; round < 60 && CollectibleAssemblies().Length > collectibleBefore; round++)
        {
            Collect();
            await Task.Delay(500);
        }

        string[] scriptAssemblies = CollectibleAssemblies()
            .Select(assembly => $"{assembly.GetName().Name} in {AssemblyLoadContext.GetLoadContext(assembly)!.Name}")
            .ToArray();
        Assert.True(collectibleBefore == scriptAssemblies.Length, $"leaks {engine.Leaks}; script assemblies: {string.Join(", ", scriptAssemblies)}");
        Assert.Single(scriptAssemblies);
        Assert.Equal(0, engine.Leaks);
    }

    [Fact]
    public async Task ReleaseCompiler_AfterCompile_RoslynContextUnloads()
    {
        _folder.Write("rules.csx", """Block("a.test");""");
        using (RuleEngine engine = _folder.Start())
        {
            Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("a.test")).Kind);
        }

        ScriptCompiler.ReleaseCompiler();
        WeakReference compiler = Assert.IsType<WeakReference>(ScriptCompiler.LastCompilerContext);
        for (int round = 0; round < 60 && compiler.IsAlive; round++)
        {
            Collect();
            await Task.Delay(500);
        }

        Assert.False(compiler.IsAlive, "the rule compiler's load context (Roslyn) did not unload");
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), assembly => AssemblyLoadContext.GetLoadContext(assembly) is CompilerLoadContext);
    }

    private static System.Reflection.Assembly[] CollectibleAssemblies() =>
        AppDomain.CurrentDomain.GetAssemblies()
            .Where(assembly => AssemblyLoadContext.GetLoadContext(assembly) is ScriptLoadContext)
            .ToArray();

    private static void Collect()
    {
        for (int i = 0; i < 5; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }
}
