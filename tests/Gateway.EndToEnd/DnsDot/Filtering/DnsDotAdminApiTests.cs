using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>
/// dns-dot's admin routes through the real admin listener (Kestrel, bearer token from a tokenFile) of the published
/// gateway: stats and the query log after kdig's queries, a pause during which a blocked name resolves and after
/// which it is blocked again, a cache flush after which a cached name is asked upstream again, and 401 for every
/// route without the token or with a wrong one.
/// </summary>
public sealed class DnsDotAdminApiTests : IClassFixture<ListUpstreamFixture>
{
    private const string Token = "e2e-dns-dot-admin-token-0123456789";
    private readonly ListUpstreamFixture _fixture;
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public DnsDotAdminApiTests(ListUpstreamFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task AdminListener_StatsQueryLogPauseFlush_AsTheContractSays()
    {
        string work = Directory.CreateTempSubdirectory("gateway-dnsapi-").FullName;
        string tokenFile = Path.Combine(work, "admin.token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");
        if (!OperatingSystem.IsWindows())
        {
            // A secret file must be private (FileTrust.CheckSecretFile).
            File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        int admin = Kdig.FreePort();
        int dns = Kdig.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($$"""
            host:
              admin:
                listen: 127.0.0.1:{{admin}}
                tokenFile: {{tokenFile}}
            dns-dot:
              listen: ["127.0.0.1:{{dns}}"]
              upstreams: [{{Kdig.Upstream(_fixture.Upstream)}}]
              lists: [ { name: ads, file: ads.txt, format: adblock } ]
            """, files: new Dictionary<string, string> { ["ads.txt"] = "||adblock-blocked.example.test^\n" });

        await WaitForAsync(async () => (await Kdig.QueryAsync(dns, "adblock-blocked.example.test", "A")).Contains("status: NXDOMAIN", StringComparison.Ordinal), "the list");

        // Every route and action refuses a request without the token or with a wrong one, and does nothing.
        foreach ((string method, string path, string? body) in new[] { ("GET", "stats", null), ("GET", "querylog?limit=5", null), ("POST", "cache/flush", null), ("POST", "blocking/pause", "{\"minutes\": 5}") })
        {
            foreach (string? token in new[] { null, "wrong-token-0123456789abcdef" })
            {
                using HttpResponseMessage refused = await SendAsync(admin, method, path, token, body);
                Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} with token '{token}': {refused.StatusCode}");
            }
        }

        Assert.Contains("status: NXDOMAIN", await Kdig.QueryAsync(dns, "adblock-blocked.example.test", "A"));
        Assert.Equal(["10.0.3.7"], await Kdig.ShortAsync(dns, "allowed.example.test", "A"));

        // The blocked query shows up in the query log with its list (within the writer's 20 ms batch; the wait
        // only covers a loaded machine).
        JsonElement entry = default;
        await WaitForAsync(async () =>
        {
            JsonElement entries = (await GetJsonAsync(admin, "querylog?rcode=blocked&limit=5")).GetProperty("entries");
            entry = entries.GetArrayLength() > 0 ? entries[0] : default;
            return entries.GetArrayLength() > 0;
        }, "the blocked query in the query log");
        Assert.Equal("adblock-blocked.example.test", entry.GetProperty("name").GetString());
        Assert.Equal("list:ads", entry.GetProperty("reason").GetString());

        JsonElement stats = await GetJsonAsync(admin, "stats");
        Assert.True(stats.GetProperty("queries").GetProperty("total").GetInt64() >= 2);
        Assert.Equal("adblock-blocked.example.test", stats.GetProperty("topBlocked")[0].GetProperty("name").GetString());
        Assert.Equal("ads", stats.GetProperty("lists")[0].GetProperty("name").GetString());
        Assert.Equal(_fixture.Upstream.Address, stats.GetProperty("upstreams")[0].GetProperty("name").GetString());

        // gateway top (issue 17's CLI) prints the same top lists: the blocked name with its count, and --json is the
        // API's own lists.
        string cli = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "gateway");
        CommandResult top = await ProcessRunner.RunAsync(cli, ["top", "--config", gateway.ConfigPath], TimeSpan.FromMinutes(1));
        Assert.True(top.ExitCode == 0, top.Output);
        Assert.Matches(@"top blocked \(last hour\):\n +\d+  adblock-blocked\.example\.test\n", top.StdOut);
        CommandResult topJson = await ProcessRunner.RunAsync(cli, ["top", "--json", "--config", gateway.ConfigPath], TimeSpan.FromMinutes(1));
        Assert.True(topJson.ExitCode == 0, topJson.Output);
        JsonElement now = await GetJsonAsync(admin, "stats");
        using (JsonDocument printed = JsonDocument.Parse(topJson.StdOut))
        {
            foreach (string list in new[] { "topNames", "topClients", "topBlocked" })
            {
                Assert.Equal(now.GetProperty(list).GetRawText(), printed.RootElement.GetProperty(list).GetRawText());
            }
        }

        // Pause: the blocked name resolves; resume: blocked again.
        using (HttpResponseMessage pause = await SendAsync(admin, "POST", "blocking/pause", body: "{\"minutes\": 5}"))
        {
            Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        }

        Assert.Equal(["10.0.3.5"], await Kdig.ShortAsync(dns, "adblock-blocked.example.test", "A"));
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(admin, "POST", "blocking/pause", body: "{\"minutes\": 5000}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(admin, "POST", "blocking/pause", body: "{\"minutes\": 0}")).StatusCode);
        Assert.Contains("status: NXDOMAIN", await Kdig.QueryAsync(dns, "adblock-blocked.example.test", "A"));

        // Flush: a cached name is asked upstream again afterwards (the query log's reason says which).
        Assert.Equal("cache", await ResolveAndLoggedReasonAsync(admin, dns, "allowed.example.test"));
        using HttpResponseMessage flush = await SendAsync(admin, "POST", "cache/flush");
        Assert.Equal(HttpStatusCode.OK, flush.StatusCode);
        Assert.True(JsonDocument.Parse(await flush.Content.ReadAsStringAsync()).RootElement.GetProperty("flushed").GetInt32() >= 1);
        Assert.Equal("upstream", await ResolveAndLoggedReasonAsync(admin, dns, "allowed.example.test"));
        Directory.Delete(work, recursive: true);
    }

    /// <summary>Asks for <paramref name="name"/> (A) and returns the reason of its query-log entry once it is logged.</summary>
    private async Task<string> ResolveAndLoggedReasonAsync(int admin, int dns, string name)
    {
        int before = (await GetJsonAsync(admin, "querylog?limit=1000&name=" + name)).GetProperty("entries").GetArrayLength();
        Assert.Equal(["10.0.3.7"], await Kdig.ShortAsync(dns, name, "A"));
        string reason = "";
        await WaitForAsync(async () =>
        {
            JsonElement entries = (await GetJsonAsync(admin, "querylog?limit=1000&name=" + name)).GetProperty("entries");
            reason = entries.GetArrayLength() > before ? entries[0].GetProperty("reason").GetString()! : "";
            return reason.Length > 0;
        }, "the query of " + name + " in the query log");
        return reason;
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{what} not seen within 30 s");
            await Task.Delay(50);
        }
    }

    private async Task<JsonElement> GetJsonAsync(int admin, string path)
    {
        using HttpResponseMessage response = await SendAsync(admin, "GET", path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private Task<HttpResponseMessage> SendAsync(int admin, string method, string path, string? token = Token, string? body = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), $"http://127.0.0.1:{admin}/api/v1/plugins/dns-dot/{path}");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return _http.SendAsync(request);
    }
}
