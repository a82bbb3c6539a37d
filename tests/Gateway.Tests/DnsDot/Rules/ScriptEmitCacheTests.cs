using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Tests.DnsDot.Rules;

/// <summary>
/// Validate and StartAsync compile the same scripts once (issue 21, start-up): the second compile of unchanged text
/// reuses what Roslyn emitted, a changed file is compiled again, and nothing is reused once the compiler is released.
/// In the unload tests' collection: it counts the process-wide Roslyn compiles, so no other test may compile meanwhile.
/// </summary>
[Collection(nameof(RuleEngineUnloadTests))]
public sealed class ScriptEmitCacheTests : IDisposable
{
    private readonly RuleScriptFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void CheckThenStart_SameScripts_EachCompiledOnceAndBothRuleSetsWork()
    {
        _folder.Write("a-block.csx", """Block("ads.cache.test");""");
        string answers = _folder.Write("b-answer.csx", """Answer("nas.cache.test", "192.168.1.10");""");
        ScriptCompiler.ReleaseCompiler();
        long before = ScriptCompiler.Emits;

        Assert.Empty(RuleEngine.Check(["rules/*.csx"], _folder.Directory));
        Assert.Equal(before + 2, ScriptCompiler.Emits);

        using RuleEngine engine = _folder.Start();
        Assert.Equal(before + 2, ScriptCompiler.Emits);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("x.ads.cache.test")).Kind);
        Assert.Equal(VerdictKind.Answer, engine.Evaluate(RuleScriptFolder.Query("nas.cache.test")).Kind);

        // One file edited: only it goes through Roslyn again, and the new text is what runs.
        File.WriteAllText(answers, """Answer("nas.cache.test", "192.168.1.11");""");
        Assert.True(engine.Reload());
        Assert.Equal(before + 3, ScriptCompiler.Emits);
        Assert.Equal("192.168.1.11", engine.Evaluate(RuleScriptFolder.Query("nas.cache.test")).Address!.ToString());
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.cache.test")).Kind);

        // The emitted images go with the compiler.
        ScriptCompiler.ReleaseCompiler();
        Assert.Empty(RuleEngine.Check(["rules/*.csx"], _folder.Directory));
        Assert.Equal(before + 5, ScriptCompiler.Emits);
    }

    [Fact]
    public void Check_ScriptWithErrors_NotKeptSoTheErrorIsReportedAgain()
    {
        _folder.Write("bad.csx", """Block("a.test"); Nope();""");
        ScriptCompiler.ReleaseCompiler();
        long before = ScriptCompiler.Emits;

        Assert.Contains("CS0103", Assert.Single(RuleEngine.Check(["rules/*.csx"], _folder.Directory)).Message);
        Assert.Contains("CS0103", Assert.Single(RuleEngine.Check(["rules/*.csx"], _folder.Directory)).Message);
        Assert.Equal(before + 2, ScriptCompiler.Emits);
    }
}
