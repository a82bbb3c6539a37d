using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Tests.DnsDot.Rules;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot.Filtering;

/// <summary>Rule scripts naming configured lists: <c>BlockList("ads")</c>, <c>AllowList("mine")</c>, and a refresh seen without recompiling.</summary>
public sealed class ListRuleStepTests : IDisposable
{
    private readonly RuleScriptFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Script_BlockListAndAllowListByName_FollowTheListsAcrossRefreshes()
    {
        string ads = _folder.Write("ads.txt", "||ads.example.test^\n||ok.example.test^\n");
        _folder.Write("mine.txt", "ok.example.test\n");
        using var lists = new ListManager(_ => { }, null, NullLogger.Instance);
        IReadOnlyList<SubscribedList> loaded = lists.Apply(
            [
                new ListOptions { Name = "ads", File = "rules/ads.txt", Format = "adblock" },
                new ListOptions { Name = "mine", File = "rules/mine.txt", Format = "domains", Kind = "allow" },
            ], _folder.Directory, Path.Combine(_folder.Directory, "state"));
        foreach (SubscribedList list in loaded)
        {
            await list.FirstLoad.WaitAsync(TimeSpan.FromSeconds(30));
        }

        _folder.Write("rules.csx", """
            AllowList("mine");
            BlockList("ads");
            """);
        using RuleEngine engine = RuleEngine.Start(["rules/*.csx"], _folder.Directory, _folder.Logs, _folder.Meter, lists: lists);

        Assert.True(engine.FailedReloads == 0, string.Join("\n", _folder.Logs.Lines));
        DnsQuery blocked = RuleScriptFolder.Query("x.ads.example.test");
        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(blocked).Kind);
        Assert.Equal("rule:rules.csx:2", blocked.DecidedBy!.Reason);
        Assert.Equal(VerdictKind.Allow, engine.Evaluate(RuleScriptFolder.Query("ok.example.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("other.example.test")).Kind);

        // The list file changes: the same compiled rules see the new list.
        long generation = lists.Find("ads")!.Generation;
        await File.WriteAllTextAsync(ads, "||other.example.test^\n");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (lists.Find("ads")!.Generation == generation && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(VerdictKind.NxDomain, engine.Evaluate(RuleScriptFolder.Query("other.example.test")).Kind);
        Assert.Equal(VerdictKind.Continue, engine.Evaluate(RuleScriptFolder.Query("ads.example.test")).Kind);
        Assert.Equal(1, engine.Reloads);
    }

    [Fact]
    public void Check_ScriptNamingConfiguredList_NoErrorWithoutLoadingIt()
    {
        string script = _folder.Write("rules.csx", "BlockList(\"ads\");\n");
        var catalog = new NamedListCatalog([new ListOptions { Name = "ads", Url = "https://example.test/ads.txt" }], _folder.Directory);
        Assert.Empty(RuleEngine.Check([script], _folder.Directory, lists: catalog));

        // Without the list configured, "ads" is a file name, and there is no such file.
        Assert.NotEmpty(RuleEngine.Check([script], _folder.Directory));
    }
}
