using System.Net;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;

namespace Gateway.Tests.DnsDot.Rules;

public sealed class RuleEngineTests : IDisposable
{
    private readonly RuleScriptFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Evaluate_Block_NameAndSubdomainsNxDomainSiblingContinues()
    {
        _folder.Write("block.csx", """Block("ads.example.test", "Tracker.Test.");""");
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("ads.example.test")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("x.ads.example.test")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("A.B.ADS.example.test.")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("tracker.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("xads.example.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("example.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("ads.example.test.evil")).Kind);
    }

    [Fact]
    public void Evaluate_Refuse_NameAndSubdomainsRefused()
    {
        _folder.Write("refuse.csx", """Refuse("internal.test");""");
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.Refused, engine.Evaluate(RuleScriptFolder.Query("internal.test")).Kind);
        Assert.Equal(VerdictKind.Refused, engine.Evaluate(RuleScriptFolder.Query("db.internal.test", DnsType.MX)).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("myinternal.test")).Kind);
    }

    [Fact]
    public void Evaluate_Answer_AGetsIPv4AaaaGetsIPv6OtherTypesGetNoData()
    {
        _folder.Write("answer.csx", """
            Answer("intranet.corp.test", "10.0.0.5", ttl: 30);
            Answer("intranet.corp.test", "10.0.0.6", ttl: 30);
            Answer("intranet.corp.test", "fd00::5");
            Answer("v4only.corp.test", "10.0.0.7");
            """);
        using RuleEngine engine = _folder.Start();

        Verdict a = engine.Evaluate(RuleScriptFolder.Query("intranet.corp.test", DnsType.A));
        Assert.Equal(VerdictKind.Answer, a.Kind);
        Assert.Equal([NetAddress.Parse("10.0.0.5"), NetAddress.Parse("10.0.0.6")], a.AnswerAddresses);
        Assert.Equal(30, a.Ttl);
        Assert.Equal(IPAddress.Parse("10.0.0.5"), a.Address);

        Verdict aaaa = engine.Evaluate(RuleScriptFolder.Query("intranet.corp.test", DnsType.AAAA));
        Assert.Equal([NetAddress.Parse("fd00::5")], aaaa.AnswerAddresses);

        // No IPv6 address: the verdict carries IPv4 only, so the resolver answers AAAA with NOERROR/NODATA.
        Verdict v4OnlyAaaa = engine.Evaluate(RuleScriptFolder.Query("v4only.corp.test", DnsType.AAAA));
        Assert.Equal(VerdictKind.Answer, v4OnlyAaaa.Kind);
        Assert.All(v4OnlyAaaa.AnswerAddresses, address => Assert.True(address.IsV4));

        Verdict mx = engine.Evaluate(RuleScriptFolder.Query("intranet.corp.test", DnsType.MX));
        Assert.Equal(VerdictKind.Answer, mx.Kind);

        // Exact name only.
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("www.intranet.corp.test")).Kind);
    }

    [Fact]
    public void Evaluate_Forward_ReturnsGroupMostSpecificSuffixWins()
    {
        _folder.Write("split.csx", """
            Forward("corp.test", group: "corp");
            Forward("lab.corp.test", group: "lab");
            """);
        using RuleEngine engine = _folder.Start();

        Verdict corp = engine.Evaluate(RuleScriptFolder.Query("git.corp.test"));
        Assert.Equal(VerdictKind.Forward, corp.Kind);
        Assert.Equal("corp", corp.Group);
        Assert.Equal("lab", engine.Evaluate(RuleScriptFolder.Query("x.lab.corp.test")).Group);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("corp.test.example")).Kind);
        Assert.Equal(["corp", "lab"], engine.ReferencedGroups.Order());
    }

    [Fact]
    public void Evaluate_RuleLambda_DecidesAndContinues()
    {
        _folder.Write("lambda.csx", """
            var lan = ClientIn("10.0.0.0/8", "fd00::/8");
            var kids = Names("games.test");
            Rule("no-any", q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);
            Rule(q => kids.Contains(q) && !lan.Contains(q) ? Verdict.Drop : Verdict.Continue);
            Rule(q => q.Name.EndsWith(".local") ? Verdict.Answer("127.0.0.1", 5) : null);
            """);
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.Refused, engine.Evaluate(RuleScriptFolder.Query("example.test", DnsType.ANY)).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("example.test", DnsType.A)).Kind);
        Assert.Equal(VerdictKind.Drop, engine.Evaluate(RuleScriptFolder.Query("www.games.test", client: "192.0.2.1")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("www.games.test", client: "10.1.2.3")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("www.games.test", client: "fd00::1")).Kind);
        Verdict local = engine.Evaluate(RuleScriptFolder.Query("printer.local"));
        Assert.Equal(VerdictKind.Answer, local.Kind);
        Assert.Equal(5, local.Ttl);
    }

    [Fact]
    public void Evaluate_DeclarationOrder_FirstTerminalVerdictWins()
    {
        _folder.Write("a.csx", """
            Rule(q => q.Name == "allowed.ads.test" ? Verdict.Forward("default") : Verdict.Continue);
            Block("ads.test");
            Refuse("ads.test", "other.test");
            """);
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.Forward, engine.Evaluate(RuleScriptFolder.Query("allowed.ads.test")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("x.ads.test")).Kind);
        Assert.Equal(VerdictKind.Refused, engine.Evaluate(RuleScriptFolder.Query("other.test")).Kind);
    }

    [Fact]
    public void Evaluate_RuleThrows_ServFailCountedAndLogged()
    {
        _folder.Write("throws.csx", """Rule("broken", q => q.Name.Length > 3 ? throw new InvalidOperationException("boom") : Verdict.Continue);""");
        using RuleEngine engine = _folder.Start();

        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(VerdictKind.ServFail, engine.Evaluate(RuleScriptFolder.Query("example.test")).Kind);
        }

        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("a.b")).Kind);
        Assert.Equal(50, engine.RuleFailures);

        // Bounded rate: 50 failures, one log line.
        string[] lines = _folder.Logs.Lines.Where(line => line.Contains("rule 'broken' threw")).ToArray();
        Assert.Single(lines);
        Assert.Contains("boom", lines[0]);
    }

    [Fact]
    public void Start_ReferenceDirective_RefusedWithPositionAndNoRules()
    {
        string path = _folder.Write("refs.csx", "// needs IO\n  #r \"System.IO.dll\"\nBlock(\"a.test\");\n");
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("a.test")).Kind);
        Assert.True(_folder.Logs.Lines.Any(line => line.Contains($"{path}:2:3: #r is not allowed")), string.Join("\n", _folder.Logs.Lines));
    }

    [Fact]
    public void Check_LoadDirective_ErrorWithFileLineColumn()
    {
        string path = _folder.Write("load.csx", "// helpers\n#load \"other.csx\"\nBlock(\"a.test\");\n");

        IReadOnlyList<PluginConfigError> errors = RuleEngine.Check(["rules/*.csx"], _folder.Directory);

        PluginConfigError error = Assert.Single(errors);
        Assert.Equal(path, error.File);
        Assert.Equal(2, error.Line);
        Assert.Equal(1, error.Column);
        Assert.Contains("#load is not allowed", error.Message);
    }

    [Fact]
    public void Check_CompileError_ReportsScriptLineAndColumn()
    {
        string path = _folder.Write("bad.csx", "Block(\"a.test\");\nRule(q => q.Nmae == \"x\" ? Verdict.Drop : Verdict.Continue);\n");

        IReadOnlyList<PluginConfigError> errors = RuleEngine.Check(["rules/*.csx"], _folder.Directory);

        PluginConfigError error = Assert.Single(errors);
        Assert.Equal(path, error.File);
        Assert.Equal(2, error.Line);
        Assert.Equal(13, error.Column);
        Assert.Contains("CS1061", error.Message);
    }

    [Fact]
    public void Check_ScriptThrowsAtLoad_ReportsLine()
    {
        string path = _folder.Write("answer.csx", "Block(\"a.test\");\n\nAnswer(\"x.test\", \"not-an-address\");\n");

        PluginConfigError error = Assert.Single(RuleEngine.Check(["rules/*.csx"], _folder.Directory));

        Assert.Equal(path, error.File);
        Assert.Equal(3, error.Line);
        Assert.Contains("not-an-address", error.Message);
    }

    [Fact]
    public void Start_EmptyAndCommentOnlyScripts_NoRulesNoErrors()
    {
        _folder.Write("a-empty.csx", "");
        _folder.Write("b-comments.csx", "// nothing yet\n");
        _folder.Write("c-block.csx", "Block(\"a.test\");");
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("a.test")).Kind);
        Assert.Equal(0, engine.FailedReloads);
    }

    [Fact]
    public void Check_ForwardToUnknownGroup_Error()
    {
        string path = _folder.Write("split.csx", "Forward(\"corp.test\", group: \"corp\");\n\nForward(\"lab.test\", group: \"lab\");\n");

        PluginConfigError error = Assert.Single(RuleEngine.Check(["rules/*.csx"], _folder.Directory, knownGroups: ["corp"]));

        Assert.Equal(path, error.File);
        Assert.Equal(3, error.Line);
        Assert.Contains("\"lab\"", error.Message);
    }

    [Fact]
    public void Check_MissingLiteralScript_ReportsKeyPath()
    {
        PluginConfigError error = Assert.Single(RuleEngine.Check(["rules/missing.csx"], _folder.Directory));

        Assert.Equal("rules:0", error.KeyPath);
        Assert.Contains("not found", error.Message);
    }

    [Fact]
    public void Reload_CompileError_OldRulesStayAndErrorLogged()
    {
        string path = _folder.Write("rules.csx", """Block("old.test");""");
        using RuleEngine engine = _folder.Start();
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("old.test")).Kind);

        File.WriteAllText(path, "Block(\"new.test\");\nBlock(\"x.test\";\n");
        Assert.False(engine.Reload());

        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("old.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("new.test")).Kind);
        Assert.True(_folder.Logs.Lines.Any(line => line.Contains($"{path}:2:15: CS1026")), string.Join("\n", _folder.Logs.Lines));
        Assert.Equal(1, engine.FailedReloads);
    }

    [Fact]
    public async Task Watch_FileEdited_NewBehaviourWithinTwoSecondsPlusOneCompileNoFailedQuery()
    {
        string path = _folder.Write("rules.csx", """Block("one.test");""");
        var started = System.Diagnostics.Stopwatch.StartNew();
        using RuleEngine engine = _folder.Start();
        TimeSpan compile = started.Elapsed;
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("one.test")).Kind);

        File.WriteAllText(path, """Block("two.test");""");
        var edited = System.Diagnostics.Stopwatch.StartNew();

        // Queries keep being answered during the swap: only the old or the new behaviour, never a failure. The edit
        // is noticed and applied within 2 s plus what one compile takes on this machine (measured above: the first
        // compile, which also loads Roslyn, so a recompile takes less).
        DnsQuery one = RuleScriptFolder.Query("one.test");
        DnsQuery two = RuleScriptFolder.Query("two.test");
        TimeSpan bound = TimeSpan.FromSeconds(2) + compile;
        while (engine.Evaluate(two).Kind != VerdictKind.NxDomain)
        {
            Assert.True(edited.Elapsed < bound, $"the edited rules were not live {bound.TotalSeconds:0.0} s after the edit (first compile took {compile.TotalSeconds:0.0} s)");
            Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(one).Kind);
            await Task.Delay(10);
        }

        Assert.Equal(VerdictKind.Continue, engine.Evaluate(one).Kind);
        Assert.Equal(2, engine.Reloads);
    }

    [Fact]
    public async Task Watch_BlockListEdited_Reloads()
    {
        File.WriteAllText(Path.Combine(_folder.Directory, "rules", "list.txt"), "first.test\n");
        _folder.Write("rules.csx", """BlockList("list.txt");""");
        using RuleEngine engine = _folder.Start();
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("first.test")).Kind);

        File.WriteAllText(Path.Combine(_folder.Directory, "rules", "list.txt"), "second.test\n");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (engine.Evaluate(RuleScriptFolder.Query("second.test")).Kind != VerdictKind.NxDomain)
        {
            Assert.True(DateTime.UtcNow < deadline, "the edited block list was not loaded");
            await Task.Delay(20);
        }
    }

    [Fact]
    public void BlockList_HostsAndPlainFormats_AllNamesBlocked()
    {
        File.WriteAllText(Path.Combine(_folder.Directory, "rules", "hosts"), """
            # a hosts file
            127.0.0.1 localhost
            0.0.0.0 ads.one.test   # comment
            127.0.0.1	two.test three.test
            ::1 ip6-localhost
            """);
        File.WriteAllText(Path.Combine(_folder.Directory, "rules", "plain.txt"), "# plain\nfour.test\n\nFive.Test.\n");
        _folder.Write("lists.csx", """
            BlockList("hosts");
            RefuseList("plain.txt");
            """);
        using RuleEngine engine = _folder.Start();

        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("x.ads.one.test")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("two.test")).Kind);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("three.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("localhost")).Kind);
        Assert.Equal(VerdictKind.Refused, engine.Evaluate(RuleScriptFolder.Query("four.test")).Kind);
        Assert.Equal(VerdictKind.Refused, engine.Evaluate(RuleScriptFolder.Query("five.test")).Kind);
    }

    [Fact]
    public void BlockList_HundredThousandNames_LoadsAndMatches()
    {
        string list = Path.Combine(_folder.Directory, "rules", "big.txt");
        using (var writer = new StreamWriter(list))
        {
            for (int i = 0; i < 100_000; i++)
            {
                writer.WriteLine($"0.0.0.0 host{i}.blocked{i % 97}.test");
            }
        }

        _folder.Write("big.csx", """BlockList("big.txt");""");
        var started = System.Diagnostics.Stopwatch.StartNew();
        using RuleEngine engine = _folder.Start();
        TimeSpan elapsed = started.Elapsed;

        Assert.Equal(100_000, engine.Current.NameCount);
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query($"www.host99999.blocked{99999 % 97}.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("host100000.blocked0.test")).Kind);

        // The goal is < 2 s (see the "rules loaded" log line for the real time); generous for a loaded CI box.
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"loading took {elapsed}");
    }

    [Fact]
    public void Check_ExampleScripts_Compile()
    {
        string examples = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../examples/rules"));
        Assert.True(Directory.Exists(examples), examples);

        IReadOnlyList<PluginConfigError> errors = RuleEngine.Check(["*.csx"], examples);

        Assert.Empty(errors);
    }
}
