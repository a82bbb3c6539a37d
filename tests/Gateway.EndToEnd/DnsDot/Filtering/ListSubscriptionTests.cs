using System.Diagnostics;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>An unbound DoT upstream that knows every name the list tests ask for (so an unblocked name visibly resolves).</summary>
public sealed class ListUpstreamFixture : IAsyncLifetime
{
    public UnboundDot Upstream { get; private set; } = null!;

    public async Task InitializeAsync() => Upstream = await UnboundDot.StartAsync(
    [
        "hosts-blocked.example.test. 300 IN A 10.0.3.1",
        "sub.hosts-blocked.example.test. 300 IN A 10.0.3.2",
        "domains-blocked.example.test. 300 IN A 10.0.3.3",
        "sub.domains-blocked.example.test. 300 IN A 10.0.3.4",
        "adblock-blocked.example.test. 300 IN A 10.0.3.5",
        "sub.adblock-blocked.example.test. 300 IN A 10.0.3.6",
        "allowed.example.test. 300 IN A 10.0.3.7",
        "newly-blocked.example.test. 300 IN A 10.0.3.8",
    ]);

    public async Task DisposeAsync() => await Upstream.DisposeAsync();
}

/// <summary>
/// Issue 16's list subscriptions end to end: lists in the three formats served by a local HTTP server block
/// their names; a changed file changes the answers after the (short) refresh without a restart; with the
/// server down at restart the copy on disk still blocks; an allow entry beats a block from another list.
/// </summary>
public sealed class ListSubscriptionTests : IClassFixture<ListUpstreamFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);
    private readonly ListUpstreamFixture _fixture;

    public ListSubscriptionTests(ListUpstreamFixture fixture) => _fixture = fixture;

    private string Config(int port, ListServer server, string state, string refresh = "2s") => $$"""
        dns-dot:
          listen: ["127.0.0.1:{{port}}"]
          upstreams: [{{Kdig.Upstream(_fixture.Upstream)}}]
          cache: { enabled: false }
          stateDirectory: "{{state}}"
          lists:
            - { name: hosts, url: "{{server.Url("hosts.txt")}}", format: hosts, refresh: {{refresh}} }
            - { name: domains, url: "{{server.Url("domains.txt")}}", format: domains, refresh: {{refresh}} }
            - { name: adblock, url: "{{server.Url("adblock.txt")}}", format: adblock, refresh: {{refresh}} }
            - { name: mine, url: "{{server.Url("allow.txt")}}", kind: allow, format: domains, refresh: {{refresh}} }
        """;

    private static void Serve(ListServer server)
    {
        server.Files["hosts.txt"] = "# hosts\n0.0.0.0 hosts-blocked.example.test\n";
        server.Files["domains.txt"] = "domains-blocked.example.test\n";
        server.Files["adblock.txt"] = "! adblock\n||adblock-blocked.example.test^\n||allowed.example.test^\n";
        server.Files["allow.txt"] = "allowed.example.test\n";
    }

    private static async Task<string> StatusAsync(int port, string name)
    {
        string output = await Kdig.QueryAsync(port, name, "A");
        int at = output.IndexOf("status: ", StringComparison.Ordinal);
        return at < 0 ? output : output[(at + 8)..].Split(';')[0].Trim();
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed < Deadline, $"{what} not seen within {Deadline.TotalSeconds} s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task Lists_ThreeFormatsOverHttp_BlockRefreshAndAllowWins()
    {
        await using var server = new ListServer();
        Serve(server);
        string state = Directory.CreateTempSubdirectory("gateway-lists-").FullName;
        int port = Kdig.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(port, server, state));
        await WaitForAsync(async () => await StatusAsync(port, "adblock-blocked.example.test") == "NXDOMAIN", "the adblock list");
        await WaitForAsync(async () => await StatusAsync(port, "hosts-blocked.example.test") == "NXDOMAIN", "the hosts list");
        await WaitForAsync(async () => await StatusAsync(port, "domains-blocked.example.test") == "NXDOMAIN", "the domains list");

        // hosts: exactly the names listed; domains and adblock (||…^): the names and their subdomains.
        Assert.Equal(["10.0.3.2"], await Kdig.ShortAsync(port, "sub.hosts-blocked.example.test", "A"));
        Assert.Equal("NXDOMAIN", await StatusAsync(port, "sub.domains-blocked.example.test"));
        Assert.Equal("NXDOMAIN", await StatusAsync(port, "sub.adblock-blocked.example.test"));

        // The adblock list blocks allowed.example.test; the allow list "mine" wins.
        Assert.Equal(["10.0.3.7"], await Kdig.ShortAsync(port, "allowed.example.test", "A"));

        // Blocked answers say why (RFC 8914 Extended DNS Error 15, "Blocked").
        string withEdns = await Kdig.QueryAsync(port, "adblock-blocked.example.test", "A", "+edns");
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(withEdns, @"EDE: 15 \(Blocked\).*list:adblock"), withEdns);

        // A changed file changes the answers after the refresh interval, without a restart.
        server.Files["domains.txt"] = "newly-blocked.example.test\n";
        await WaitForAsync(async () => await StatusAsync(port, "newly-blocked.example.test") == "NXDOMAIN", "the changed domains list");
        Assert.Equal(["10.0.3.3"], await Kdig.ShortAsync(port, "domains-blocked.example.test", "A"));

        // Unchanged lists were not downloaded again: the server answered 304 to the conditional GETs.
        Assert.True(server.NotModified > 0, $"expected If-None-Match revalidations, got {server.Requests} requests and no 304");
        Assert.True(File.Exists(Path.Combine(state, "lists", "adblock.list")));
        Directory.Delete(state, recursive: true);
    }

    [Fact]
    public async Task Lists_ServerDownAtRestart_CopyOnDiskStillBlocks()
    {
        string state = Directory.CreateTempSubdirectory("gateway-lists-").FullName;
        int port = Kdig.FreePort();
        string config;
        await using (var server = new ListServer())
        {
            Serve(server);
            config = Config(port, server, state, refresh: "24h");
            await using GatewayProcess first = await GatewayProcess.StartAsync(config);
            await WaitForAsync(async () => await StatusAsync(port, "adblock-blocked.example.test") == "NXDOMAIN", "the adblock list");
        }

        // The server is gone: the restarted gateway blocks from its copies (no wait for a download that cannot happen).
        await using GatewayProcess second = await GatewayProcess.StartAsync(config);
        await WaitForAsync(async () => await StatusAsync(port, "adblock-blocked.example.test") == "NXDOMAIN", "the copy on disk");
        Assert.Equal("NXDOMAIN", await StatusAsync(port, "hosts-blocked.example.test"));
        Assert.Equal("NXDOMAIN", await StatusAsync(port, "domains-blocked.example.test"));
        Assert.Equal(["10.0.3.7"], await Kdig.ShortAsync(port, "allowed.example.test", "A"));
        Directory.Delete(state, recursive: true);
    }
}
