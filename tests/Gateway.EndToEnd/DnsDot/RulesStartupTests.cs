using System.Diagnostics;
using Gateway.EndToEnd.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// <c>dns-dot.rulesStartup</c> (issue 21) in the published gateway, with an empty rules-cache (a first start): in
/// <c>fast</c> (the default) and <c>refuse</c>, "gateway ready" comes while the blocking script still compiles, a
/// query in that window is answered unfiltered (fast) or REFUSED, and once "rule scripts active" is logged the
/// script blocks; <c>wait</c> is ready only with the script in use. The window is held open by the script itself: it
/// waits at load time for a gate file the test creates, so the queries in the window never race the compile.
/// </summary>
public sealed class RulesStartupTests : IClassFixture<RuleScriptUpstreamsFixture>
{
    /// <summary>Generous: Roslyn's cold compile took 10–20 s on a loaded 2-core machine.</summary>
    private static readonly TimeSpan CompileDeadline = TimeSpan.FromSeconds(120);

    private readonly RuleScriptUpstreamsFixture _upstreams;
    private readonly ITestOutputHelper _output;

    public RulesStartupTests(RuleScriptUpstreamsFixture upstreams, ITestOutputHelper output)
    {
        _upstreams = upstreams;
        _output = output;
    }

    [Fact]
    public async Task Run_DefaultFastColdCache_ReadyAtOnceUnfilteredThenBlockedOnceScriptsActive()
    {
        await using Folder folder = Folder.Create();
        int port = FreePort();
        var clock = Stopwatch.StartNew();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(port, folder, mode: null), waitForRules: false);
        _output.WriteLine($"gateway ready after {clock.ElapsedMilliseconds} ms");

        // The script cannot have loaded: it waits for the gate.
        await gateway.WaitForOutputAsync("compiling them in the background", CompileDeadline);
        Assert.Contains("queries are answered as if the scripts had no rules", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("rule scripts active", gateway.Output, StringComparison.Ordinal);

        // In the window: forwarded (the upstream's address), and the config's local record still answers.
        string during = await KdigAsync(port, "ads.example.test", "A");
        Assert.Contains("status: NOERROR", during);
        Assert.Matches(@"ads\.example\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.66", during);
        Assert.Matches(@"nas\.startup\.test\.\s+\d+\s+IN\s+A\s+192\.168\.1\.10", await KdigAsync(port, "nas.startup.test", "A"));

        folder.OpenGate();
        await gateway.WaitForOutputAsync("rule scripts active", CompileDeadline);
        _output.WriteLine($"scripts active after {clock.ElapsedMilliseconds} ms");
        Assert.Matches(@"rule scripts active: 1 script\(s\) compiled in the background in \d+ ms; [1-9]\d* queries were answered without the scripts' rules", gateway.Output);

        // The same query is now the script's: blocked (the cached upstream answer does not bypass it).
        Assert.Contains("status: NXDOMAIN", await KdigAsync(port, "ads.example.test", "A"));
        Assert.Matches(@"xads\.example\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.77", await KdigAsync(port, "xads.example.test", "A"));
        Assert.Single(Directory.GetFiles(Path.Combine(folder.Path, "state", "rules-cache"), "*.rules"));
    }

    [Fact]
    public async Task Run_RefuseColdCache_RefusedInTheWindowThenTheScriptsAnswers()
    {
        await using Folder folder = Folder.Create();
        int port = FreePort();
        int admin = FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($"host:\n  admin:\n    listen: 127.0.0.1:{admin}\n" + Config(port, folder, mode: "refuse"), waitForRules: false);
        await gateway.WaitForOutputAsync("compiling them in the background", CompileDeadline);
        Assert.Contains("every query is answered REFUSED (dns-dot.rulesStartup: refuse)", gateway.Output, StringComparison.Ordinal);

        Assert.Contains("status: REFUSED", await KdigAsync(port, "ads.example.test", "A"));
        Assert.Contains("status: REFUSED", await KdigAsync(port, "xads.example.test", "A", "+tcp"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        string stats = $"http://127.0.0.1:{admin}/api/v1/plugins/dns-dot/stats";
        Assert.Matches("\"rules\":{\"state\":\"compiling\",\"queriesWithoutScripts\":[1-9][0-9]*}", await http.GetStringAsync(stats));

        folder.OpenGate();
        await gateway.WaitForOutputAsync("rule scripts active", CompileDeadline);
        Assert.Contains("\"rules\":{\"state\":\"active\"}", await http.GetStringAsync(stats), StringComparison.Ordinal);
        Assert.Matches(@"[1-9]\d* queries were answered REFUSED until now", gateway.Output);
        Assert.Contains("status: NXDOMAIN", await KdigAsync(port, "ads.example.test", "A"));
        Assert.Matches(@"xads\.example\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.77", await KdigAsync(port, "xads.example.test", "A"));
    }

    [Fact]
    public async Task Run_WaitColdCache_ReadyOnlyWithTheScriptInUse()
    {
        await using Folder folder = Folder.Create();
        folder.OpenGate();
        int port = FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(port, folder, mode: "wait"), waitForRules: false);

        // The first query after "gateway ready" is already the script's; nothing compiled in the background.
        Assert.Contains("status: NXDOMAIN", await KdigAsync(port, "ads.example.test", "A"));
        Assert.DoesNotContain("in the background", gateway.Output, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(folder.Path, "state", "rules-cache"), "*.rules"));
    }

    [Fact]
    public async Task Run_FastColdCacheBrokenScript_ReadyThenErrorWithPositionAndServesWithoutIt()
    {
        await using Folder folder = Folder.Create("Block(\"ads.example.test\");\nBlock(\"x.test\"\n");
        int port = FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(port, folder, mode: null), waitForRules: false);

        await gateway.WaitForOutputAsync("serving with no rules until the scripts are fixed", CompileDeadline);
        Assert.Matches(@"main\.csx:3:\d+: ", gateway.Output);
        Assert.Matches(@"ads\.example\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.66", await KdigAsync(port, "ads.example.test", "A"));

        // gateway check is not weaker: it compiles and exits 2 with the position.
        string exe = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "gateway");
        CommandResult check = await ProcessRunner.RunAsync(exe, ["check", "--config", gateway.ConfigPath], TimeSpan.FromMinutes(2));
        Assert.True(check.ExitCode == 2, check.Output);
        Assert.Matches(@"main\.csx:3:\d+: ", check.StdErr);
    }

    private string Config(int port, Folder folder, string? mode)
    {
        string Upstream(UnboundDot u) => $"{{ address: \"{u.Address}\", tlsName: {UnboundDot.TlsName}, caFile: \"{u.CaFile}\" }}";
        return $"""
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              upstreams: [{Upstream(_upstreams.Default)}]
              records: ["nas.startup.test 300 A 192.168.1.10"]
              rules: ["{folder.Path}/rules/*.csx"]
              stateDirectory: "{folder.Path}/state"
            {(mode is null ? "" : $"  rulesStartup: {mode}\n")}
            """;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> KdigAsync(int port, string name, string type, params string[] extra)
    {
        var args = new List<string> { "@127.0.0.1", "-p", port.ToString(), "+time=5", "+retry=1", name, type };
        args.AddRange(extra);
        CommandResult result = await ProcessRunner.RunAsync("kdig", args, TimeSpan.FromSeconds(30));
        return result.Output;
    }

    /// <summary>The test's scripts and state folder (an empty rules-cache), and the gate the script waits for.</summary>
    private sealed class Folder : IAsyncDisposable
    {
        private Folder(string path) => Path = path;

        public string Path { get; }

        private string Gate => System.IO.Path.Combine(Path, "gate");

        /// <summary>A folder whose rules/main.csx waits for the gate at load time, then runs <paramref name="rules"/>.</summary>
        public static Folder Create(string rules = "Block(\"ads.example.test\");\n")
        {
            var folder = new Folder(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gateway-e2e", "rules-startup-" + Guid.NewGuid().ToString("N")[..12]));
            Directory.CreateDirectory(System.IO.Path.Combine(folder.Path, "rules"));

            // Polls a file at load time (the script's own 30 s load limit bounds it): the test opens the gate after
            // its queries in the window, so the window is open exactly as long as the test needs.
            File.WriteAllText(System.IO.Path.Combine(folder.Path, "rules", "main.csx"),
                $"while (!System.IO.File.Exists(\"{folder.Gate}\")) System.Threading.Thread.Sleep(10);\n" + rules);
            return folder;
        }

        public void OpenGate() => File.WriteAllText(Gate, "");

        public ValueTask DisposeAsync()
        {
            Directory.Delete(Path, recursive: true);
            return ValueTask.CompletedTask;
        }
    }
}
