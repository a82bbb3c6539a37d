using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.DnsDot.Rules;

/// <summary>
/// <c>dns-dot.rulesStartup</c> (issue 21): with no cached image, <c>fast</c> serves as if the scripts had no rules and
/// <c>refuse</c> answers REFUSED while they compile in the background, then the compiled rules are swapped in; <c>wait</c>
/// compiles before the engine starts. The window is held open by holding the compiler's lock, so no test races the
/// compile. In the unload tests' collection: they count the process-wide compiles.
/// </summary>
[Collection(nameof(RuleEngineUnloadTests))]
public sealed class RulesStartupTests : IDisposable
{
    private static readonly TimeSpan CompileDeadline = TimeSpan.FromSeconds(120);

    private readonly RuleScriptFolder _folder = new();
    private readonly ScriptCache _cache;

    public RulesStartupTests()
    {
        _cache = new ScriptCache(Path.Combine(_folder.Directory, "state", ScriptCache.FolderName));
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Start_FastColdCache_QueriesContinueUntilTheCompiledRulesSwapIn()
    {
        _folder.Write("block.csx", """Block("ads.startup.test");""");
        ScriptCompiler.ForgetEmitted();

        RuleEngine engine;
        using (ScriptCompiler.CompilerLock.EnterScope())
        {
            engine = Start(RulesStartupMode.Fast);
            Assert.Equal("compiling", engine.State);
            Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
            Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("other.startup.test")).Kind);
            Assert.Equal(2, engine.Pending!.Queries);
            Assert.Contains(_folder.Logs.Lines, l => l.Contains("compiling them in the background", StringComparison.Ordinal) && l.Contains("as if the scripts had no rules", StringComparison.Ordinal));
        }

        using (engine)
        {
            WaitForCompile(engine);
            Assert.Equal("active", engine.State);
            Assert.Null(engine.Pending);
            Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
            Assert.Contains(_folder.Logs.Lines, l => l.Contains("rule scripts active: 1 script(s) compiled in the background in", StringComparison.Ordinal) && l.Contains("2 queries were answered without the scripts' rules", StringComparison.Ordinal));
            Assert.Single(Directory.GetFiles(_cache.Directory, "*.rules"));
        }
    }

    [Fact]
    public void Start_RefuseColdCache_RefusedUntilTheCompiledRulesSwapIn()
    {
        _folder.Write("block.csx", """Block("ads.startup.test");""");
        ScriptCompiler.ForgetEmitted();

        RuleEngine engine;
        using (ScriptCompiler.CompilerLock.EnterScope())
        {
            engine = Start(RulesStartupMode.Refuse);
            DnsQuery query = RuleScriptFolder.Query("www.startup.test");
            Assert.Equal(VerdictKind.Refused, engine.Evaluate(query).Kind);
            Assert.Equal("rules:compiling", query.DecidedBy!.Reason);
        }

        using (engine)
        {
            WaitForCompile(engine);
            Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("www.startup.test")).Kind);
            Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
            Assert.Contains(_folder.Logs.Lines, l => l.Contains("1 queries were answered REFUSED", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Dispose_DuringTheBackgroundCompile_ReturnsAtOnceAndTheCompileEndDisposes()
    {
        _folder.Write("block.csx", """Block("ads.startup.test");""");
        ScriptCompiler.ForgetEmitted();

        RuleEngine engine;
        Thread compile;
        using (ScriptCompiler.CompilerLock.EnterScope())
        {
            engine = Start(RulesStartupMode.Refuse);
            compile = engine.BackgroundCompile!;

            // The compile cannot end while the test holds the compiler (it either waits for it, or saw the dispose
            // first and never compiles): a Dispose that waited for it would hang here. The stand-in is gone at once.
            engine.Dispose();
            Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("www.startup.test")).Kind);
        }

        Assert.True(compile.Join(CompileDeadline), "the background compile did not end in time");
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
        Assert.DoesNotContain(_folder.Logs.Lines, l => l.Contains("rule scripts active", StringComparison.Ordinal));
    }

    [Fact]
    public void Start_WaitColdCache_CompiledBeforeItReturns()
    {
        _folder.Write("block.csx", """Block("ads.startup.test");""");
        ScriptCompiler.ForgetEmitted();
        long before = ScriptCompiler.Emits;

        using RuleEngine engine = Start(RulesStartupMode.Wait);
        Assert.Null(engine.BackgroundCompile);
        Assert.Equal(before + 1, ScriptCompiler.Emits);
        Assert.Equal("active", engine.State);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
    }

    [Fact]
    public void Start_FastWarmCache_LoadedBeforeItReturnsWithoutRoslyn()
    {
        _folder.Write("block.csx", """Block("ads.startup.test");""");
        ScriptCompiler.ForgetEmitted();
        Start(RulesStartupMode.Wait).Dispose();
        ScriptCompiler.ReleaseCompiler();

        using RuleEngine engine = Start(RulesStartupMode.Fast);
        Assert.Null(engine.BackgroundCompile);
        Assert.False(ScriptCompiler.CompilerLoaded);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
        Assert.DoesNotContain(_folder.Logs.Lines, l => l.Contains("in the background", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("fast", VerdictKind.Continue, "serving with no rules until the scripts are fixed")]
    [InlineData("refuse", VerdictKind.Refused, "every query stays REFUSED (dns-dot.rulesStartup: refuse) until the scripts are fixed")]
    public void Start_BackgroundCompileError_LoggedWithPositionAndTheStandInStays(string mode, VerdictKind during, string action)
    {
        _folder.Write("bad.csx", "Block(\"ads.startup.test\");\nNope();\n");
        ScriptCompiler.ForgetEmitted();

        using RuleEngine engine = Start(RulesStartupModes.Parse(mode)!.Value);
        WaitForCompile(engine);
        Assert.Equal("failed", engine.State);
        Assert.Equal(during, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
        Assert.Contains(_folder.Logs.Lines, l => l.Contains("bad.csx:2:1: ", StringComparison.Ordinal) && l.Contains("CS0103", StringComparison.Ordinal));
        Assert.Contains(_folder.Logs.Lines, l => l.Contains(action, StringComparison.Ordinal));
    }

    [Fact]
    public void Start_ScriptFixedAfterAFailedBackgroundCompile_RulesLoad()
    {
        string script = _folder.Write("bad.csx", "Nope();\n");
        ScriptCompiler.ForgetEmitted();

        using RuleEngine engine = Start(RulesStartupMode.Refuse);
        WaitForCompile(engine);
        File.WriteAllText(script, """Block("ads.startup.test");""");
        Assert.True(engine.Reload());
        Assert.Equal("active", engine.State);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("www.startup.test")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.startup.test")).Kind);
    }

    [Theory]
    [InlineData(true, "fast", 0)]
    [InlineData(true, "refuse", 0)]
    [InlineData(true, "wait", 1)]
    [InlineData(false, "fast", 1)]
    public void Validate_ScriptErrorColdCache_ReportedUnlessAStartCompilesInTheBackground(bool beforeStart, string mode, int expected)
    {
        _folder.Write("bad.csx", "Block(\"ads.startup.test\");\nNope();\n");
        ScriptCompiler.ForgetEmitted();
        long before = ScriptCompiler.Emits;
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["rules:0"] = "rules/*.csx",
            ["rulesStartup"] = mode,
            ["stateDirectory"] = Path.Combine(_folder.Directory, "state"),
        }).Build();
        var context = new PluginValidationContext("dns-dot", configuration, _folder.Directory) { BeforeStart = beforeStart };

        new DnsDotPlugin().Validate(context);

        // gateway check (BeforeStart false) always compiles and reports file:line:col; a start in fast or refuse
        // mode leaves the compile (and its errors) to the background.
        Assert.Equal(expected, context.Errors.Count);
        Assert.Equal(before + expected, ScriptCompiler.Emits);
        if (expected == 1)
        {
            PluginConfigError error = context.Errors[0];
            Assert.Equal((2, 1), (error.Line, error.Column));
            Assert.EndsWith("bad.csx", error.File, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_UnknownRulesStartup_ErrorAtTheKey()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["rulesStartup"] = "lazy" }).Build();
        var context = new PluginValidationContext("dns-dot", configuration, _folder.Directory);
        new DnsDotPlugin().Validate(context);
        PluginConfigError error = Assert.Single(context.Errors);
        Assert.Equal("rulesStartup", error.KeyPath);
        Assert.Contains("use fast, refuse or wait", error.Message, StringComparison.Ordinal);
    }

    private RuleEngine Start(RulesStartupMode mode) =>
        RuleEngine.Start(["rules/*.csx"], _folder.Directory, _folder.Logs, _folder.Meter, pluginDirectory: null, lists: null, _cache, mode);

    private static void WaitForCompile(RuleEngine engine)
    {
        if (engine.BackgroundCompile is { } thread)
        {
            Assert.True(thread.Join(CompileDeadline), "the background compile did not end in time");
        }
    }
}
