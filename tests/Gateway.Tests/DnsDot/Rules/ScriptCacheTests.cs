using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Tests.DnsDot.Rules;

/// <summary>
/// The on-disk cache of compiled rule scripts (issue 21, start-up): an unchanged script is loaded without Roslyn,
/// anything that changes the emitted image (the script, the compiler's files) compiles again, and an entry that is
/// corrupt, someone else's or writable by others is never run. In the unload tests' collection: it counts the
/// process-wide Roslyn compiles and whether Roslyn is loaded, so no other test may compile meanwhile.
/// </summary>
[Collection(nameof(RuleEngineUnloadTests))]
public sealed class ScriptCacheTests : IDisposable
{
    private readonly RuleScriptFolder _folder = new();
    private readonly ScriptCache _cache;

    public ScriptCacheTests()
    {
        _cache = new ScriptCache(Path.Combine(_folder.Directory, "state", ScriptCache.FolderName));
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Start_UnchangedScriptsSecondTime_LoadedFromCacheWithoutRoslynAndRulesApply()
    {
        WriteTwoScripts();
        long before = ColdStart();

        using (RuleEngine first = _folder.StartCached(_cache))
        {
            Assert.Equal(VerdictKind.NxDomain, first.Evaluate(RuleScriptFolder.Query("x.ads.cache.test")).Kind);
        }

        Assert.Equal(before + 2, ScriptCompiler.Emits);
        Assert.Equal(2, Directory.GetFiles(_cache.Directory, "*.rules").Length);

        // A new process: nothing in memory, the compiler not loaded.
        ScriptCompiler.ReleaseCompiler();
        Assert.False(ScriptCompiler.CompilerLoaded);
        using RuleEngine second = _folder.StartCached(_cache);
        Assert.Equal(before + 2, ScriptCompiler.Emits);
        Assert.False(ScriptCompiler.CompilerLoaded);
        Assert.Equal(VerdictKind.NxDomain, second.Evaluate(RuleScriptFolder.Query("x.ads.cache.test")).Kind);
        Assert.Equal("192.168.1.10", second.Evaluate(RuleScriptFolder.Query("nas.cache.test")).Address!.ToString());
        Assert.Contains(_folder.Logs.Lines, l => l.Contains("rule scripts loaded from cache: 2 script(s)", StringComparison.Ordinal));
    }

    [Fact]
    public void Start_OneScriptEdited_OnlyItCompiledAndTheNewTextRuns()
    {
        (_, string answers) = WriteTwoScripts();
        long before = ColdStart();
        _folder.StartCached(_cache).Dispose();
        ScriptCompiler.ForgetEmitted();

        File.WriteAllText(answers, """Answer("nas.cache.test", "192.168.1.11");""");
        using RuleEngine engine = _folder.StartCached(_cache);
        Assert.Equal(before + 3, ScriptCompiler.Emits);
        Assert.Equal("192.168.1.11", engine.Evaluate(RuleScriptFolder.Query("nas.cache.test")).Address!.ToString());
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.cache.test")).Kind);
        Assert.Contains(_folder.Logs.Lines, l => l.Contains("1 script(s) compiled, 1 from the cache", StringComparison.Ordinal));
    }

    [Fact]
    public void Start_CompilerFilesChanged_EveryScriptCompiledAgain()
    {
        WriteTwoScripts();
        string compiler = CopyCompiler();
        long before = ColdStart();
        _folder.StartCached(_cache, compiler).Dispose();
        ScriptCompiler.ForgetEmitted();
        _folder.StartCached(_cache, compiler).Dispose();
        Assert.Equal(before + 2, ScriptCompiler.Emits);

        // Another Roslyn build (here: the same file with a byte more, which still loads): another emitted image.
        ScriptCompiler.ReleaseCompiler();
        using (FileStream roslyn = File.Open(Path.Combine(compiler, "Microsoft.CodeAnalysis.CSharp.dll"), FileMode.Append))
        {
            roslyn.WriteByte(0);
        }

        using RuleEngine engine = _folder.StartCached(_cache, compiler);
        Assert.Equal(before + 4, ScriptCompiler.Emits);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.cache.test")).Kind);
        Assert.Equal(4, Directory.GetFiles(_cache.Directory, "*.rules").Length);
        ScriptCompiler.ReleaseCompiler();
    }

    [Fact]
    public void Key_AnyInputChanged_AnotherKey()
    {
        byte[] key = ScriptCache.Key("inputs", "/r/a.csx", "Block(\"a\");");
        Assert.Equal(32, key.Length);
        Assert.Equal(key, ScriptCache.Key("inputs", "/r/a.csx", "Block(\"a\");"));
        Assert.NotEqual(key, ScriptCache.Key("inputs2", "/r/a.csx", "Block(\"a\");"));
        Assert.NotEqual(key, ScriptCache.Key("inputs", "/r/b.csx", "Block(\"a\");"));
        Assert.NotEqual(key, ScriptCache.Key("inputs", "/r/a.csx", "Block(\"b\");"));

        // Lengths are hashed too, so moving text between parts is another key.
        Assert.NotEqual(ScriptCache.Key("ab", "c", ""), ScriptCache.Key("a", "bc", ""));
    }

    [Theory]
    [InlineData("a byte flipped")]
    [InlineData("truncated")]
    [InlineData("another script's entry")]
    [InlineData("garbage")]
    public void Start_CorruptEntry_IgnoredCompiledAgainAndRewritten(string damage)
    {
        WriteTwoScripts();
        long before = ColdStart();
        _folder.StartCached(_cache).Dispose();
        string[] entries = Directory.GetFiles(_cache.Directory, "*.rules");
        string victim = entries[0];
        byte[] bytes = File.ReadAllBytes(victim);
        switch (damage)
        {
            case "a byte flipped":
                bytes[bytes.Length / 2] ^= 0x20;
                File.WriteAllBytes(victim, bytes);
                break;
            case "truncated":
                File.WriteAllBytes(victim, bytes[..(bytes.Length / 2)]);
                break;
            case "another script's entry":
                File.Copy(entries[1], victim, overwrite: true);
                break;
            default:
                File.WriteAllText(victim, new string('x', 200));
                break;
        }

        ScriptCompiler.ForgetEmitted();
        using (RuleEngine engine = _folder.StartCached(_cache))
        {
            Assert.Equal(before + 3, ScriptCompiler.Emits);
            Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.cache.test")).Kind);
            Assert.Equal("192.168.1.10", engine.Evaluate(RuleScriptFolder.Query("nas.cache.test")).Address!.ToString());
            Assert.Contains(_folder.Logs.Lines, l => l.Contains("compiled rule script cache:", StringComparison.Ordinal) && l.Contains(victim, StringComparison.Ordinal));
        }

        // Rewritten whole: the next start compiles nothing.
        ScriptCompiler.ForgetEmitted();
        using RuleEngine again = _folder.StartCached(_cache);
        Assert.Equal(before + 3, ScriptCompiler.Emits);
        Assert.Equal(VerdictKind.NxDomain, again.Evaluate(RuleScriptFolder.Query("ads.cache.test")).Kind);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Write_Entries_OwnerOnlyFolderAndFiles()
    {
        WriteTwoScripts();
        ColdStart();
        _folder.StartCached(_cache).Dispose();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_cache.Directory));
        string[] entries = Directory.GetFiles(_cache.Directory);
        Assert.Equal(2, entries.Length);
        Assert.All(entries, e => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(e)));
        Assert.All(entries, e => Assert.EndsWith(".rules", e, StringComparison.Ordinal));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Start_EntryWritableByOthers_NotRunCompiledAgain()
    {
        WriteTwoScripts();
        long before = ColdStart();
        _folder.StartCached(_cache).Dispose();
        string victim = Directory.GetFiles(_cache.Directory, "*.rules")[0];
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);

        ScriptCompiler.ForgetEmitted();
        using RuleEngine engine = _folder.StartCached(_cache);
        Assert.Equal(before + 3, ScriptCompiler.Emits);
        Assert.Contains(_folder.Logs.Lines, l => l.Contains(victim, StringComparison.Ordinal) && l.Contains("writable by group or others", StringComparison.Ordinal));
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.cache.test")).Kind);

        // The rewritten entry is owner-only again.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(victim));
    }

    [Fact]
    public void Check_ScriptWithErrors_NeverCachedAndReportedWithPositionEachTime()
    {
        _folder.Write("bad.csx", "Block(\"a.test\");\nNope();\n");
        long before = ColdStart();

        for (int round = 1; round <= 2; round++)
        {
            Gateway.Sdk.Plugins.PluginConfigError error = Assert.Single(RuleEngine.Check(["rules/*.csx"], _folder.Directory, cache: _cache));
            Assert.Contains("CS0103", error.Message, StringComparison.Ordinal);
            Assert.Equal((2, 1), (error.Line, error.Column));
            Assert.EndsWith("bad.csx", error.File, StringComparison.Ordinal);
            ScriptCompiler.ForgetEmitted();
        }

        Assert.Equal(before + 2, ScriptCompiler.Emits);
        Assert.False(Directory.Exists(_cache.Directory) && Directory.GetFiles(_cache.Directory, "*.rules").Length > 0);
    }

    private (string Blocks, string Answers) WriteTwoScripts() =>
        (_folder.Write("a-block.csx", """Block("ads.cache.test");"""), _folder.Write("b-answer.csx", """Answer("nas.cache.test", "192.168.1.10");"""));

    /// <summary>
    /// No image in memory from an earlier test (what a new process starts with; Roslyn may stay loaded, which only
    /// saves its cold start: every test counts compiles); returns the compile count.
    /// </summary>
    private static long ColdStart()
    {
        ScriptCompiler.ForgetEmitted();
        return ScriptCompiler.Emits;
    }

    /// <summary>A plugin folder of its own holding the compiler and Roslyn (copied from the test's output).</summary>
    private string CopyCompiler()
    {
        string source = Path.GetDirectoryName(typeof(ScriptCompiler).Assembly.Location)!;
        string target = Path.Combine(_folder.Directory, "plugin");
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source, "*.dll"))
        {
            string name = Path.GetFileName(file);
            if (name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) || name == CompilerLoadContext.CompilerAssembly + ".dll")
            {
                File.Copy(file, Path.Combine(target, name));
            }
        }

        return target;
    }
}
