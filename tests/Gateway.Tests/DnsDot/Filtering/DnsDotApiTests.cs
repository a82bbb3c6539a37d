using System.Text;
using System.Text.Json;
using Gateway.Plugins.DnsDot.Api;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Statistics;
using Gateway.Sdk.Api;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.DnsDot.Filtering;

/// <summary>dns-dot's admin routes through the SDK types, shapes as the API contract fixes them.</summary>
public sealed class DnsDotApiTests
{
    private static ApiRequest Get(string path, Dictionary<string, string>? query = null) => new("GET", path, query ?? new Dictionary<string, string>(), ReadOnlyMemory<byte>.Empty);

    private static ApiRequest Post(string path, string body) => new("POST", path, new Dictionary<string, string>(), Encoding.UTF8.GetBytes(body));

    private static async Task<(FilteringHarness Harness, DnsDotApi Api, QueryStatistics Statistics, QueryRing Ring)> CreateAsync()
    {
        var options = new DnsDotOptions
        {
            Lists = [new ListOptions { Name = "ads", File = "ads.txt", Format = "adblock" }],
            Clients = new Dictionary<string, ClientGroupOptions> { ["kids"] = new() { Networks = ["192.168.1.64/27"] } },
        };
        FilteringHarness harness = await FilteringHarness.CreateAsync(options, new Dictionary<string, string> { ["ads.txt"] = "||ads.example.test^\n" });
        var statistics = new QueryStatistics();
        var ring = new QueryRing();
        return (harness, new DnsDotApi(() => harness.Resolver.Snapshot, statistics, ring, harness.Lists, harness.Pause), statistics, ring);
    }

    private static JsonElement Json(ApiResponse response) => JsonDocument.Parse(response.Body).RootElement;

    [Fact]
    public async Task Stats_AfterQueries_ContractFields()
    {
        (FilteringHarness harness, DnsDotApi api, QueryStatistics statistics, _) = await CreateAsync();
        using (harness)
        {
            // A blocked query through the resolver, observed as the plugin observes it.
            var queue = new CapturingObserver();
            harness.Resolver.Observer = queue;
            harness.Run(DnsTestMessages.Query("ads.example.test", 1));
            statistics.OnEvent(queue.Last!);

            ApiResponse response = await api.Stats(Get("stats"), CancellationToken.None);
            Assert.Equal(200, response.StatusCode);
            Assert.StartsWith("application/json", response.ContentType);
            JsonElement root = Json(response);
            Assert.Equal(1, root.GetProperty("queries").GetProperty("total").GetInt64());
            Assert.Equal(1, root.GetProperty("queries").GetProperty("lastMinute").GetInt64());
            Assert.Equal(1.0, root.GetProperty("blockedRatio").GetDouble());
            Assert.True(root.GetProperty("qps").GetDouble() > 0);
            foreach (string window in new[] { "oneMinute", "oneHour" })
            {
                JsonElement p = root.GetProperty("latencyMs").GetProperty(window);
                Assert.True(p.TryGetProperty("p50", out _) && p.TryGetProperty("p90", out _) && p.TryGetProperty("p99", out _));
            }

            Assert.Equal(360, root.GetProperty("series").GetArrayLength());
            JsonElement point = root.GetProperty("series")[359];
            foreach (string field in new[] { "time", "queries", "blocked", "cacheHits", "p50Ms", "p99Ms" })
            {
                Assert.True(point.TryGetProperty(field, out _), field);
            }

            Assert.Equal("ads.example.test", root.GetProperty("topBlocked")[0].GetProperty("name").GetString());
            Assert.Equal("192.0.2.7", root.GetProperty("topClients")[0].GetProperty("client").GetString());
            JsonElement list = root.GetProperty("lists")[0];
            Assert.Equal("ads", list.GetProperty("name").GetString());
            Assert.Equal("block", list.GetProperty("kind").GetString());
            Assert.Equal(1, list.GetProperty("entries").GetInt32());
            Assert.Equal(1, list.GetProperty("hits").GetInt64());
            Assert.True(list.TryGetProperty("updated", out _) && list.TryGetProperty("ageSeconds", out _));
            Assert.True(root.GetProperty("blocking").GetProperty("enabled").GetBoolean());
            Assert.True(root.TryGetProperty("upstreams", out _) && root.TryGetProperty("cacheHitRatio", out _) && root.TryGetProperty("topNames", out _));
        }
    }

    [Fact]
    public async Task QueryLog_Parameters_ValidatedAndFiltered()
    {
        (FilteringHarness harness, DnsDotApi api, _, QueryRing ring) = await CreateAsync();
        using (harness)
        {
            var queue = new CapturingObserver();
            harness.Resolver.Observer = queue;
            harness.Run(DnsTestMessages.Query("ads.example.test", 1));
            ring.OnEvent(queue.Last!);

            ApiResponse response = await api.QueryLog(Get("querylog", new() { ["rcode"] = "blocked", ["client"] = "192.0.2.0/24", ["name"] = "ads" }), CancellationToken.None);
            JsonElement entry = Assert.Single(Json(response).GetProperty("entries").EnumerateArray());
            Assert.Equal("list:ads", entry.GetProperty("reason").GetString());
            Assert.Equal("A", entry.GetProperty("type").GetString());
            Assert.Empty(Json(await api.QueryLog(Get("querylog", new() { ["client"] = "10.0.0.1" }), CancellationToken.None)).GetProperty("entries").EnumerateArray());

            Assert.Equal(400, (await api.QueryLog(Get("querylog", new() { ["limit"] = "1001" }), CancellationToken.None)).StatusCode);
            Assert.Equal(400, (await api.QueryLog(Get("querylog", new() { ["limit"] = "x" }), CancellationToken.None)).StatusCode);
            Assert.Equal(400, (await api.QueryLog(Get("querylog", new() { ["client"] = "not-an-ip" }), CancellationToken.None)).StatusCode);
            ApiResponse bad = await api.QueryLog(Get("querylog", new() { ["rcode"] = "BOGUS" }), CancellationToken.None);
            Assert.Equal(400, bad.StatusCode);
            Assert.True(Json(bad).TryGetProperty("error", out _));
        }
    }

    [Fact]
    public async Task Pause_ValidatesThenPausesAndResumes()
    {
        (FilteringHarness harness, DnsDotApi api, _, _) = await CreateAsync();
        using (harness)
        {
            Assert.Equal(400, (await api.PauseBlocking(Post("blocking/pause", "{\"minutes\": 1441}"), CancellationToken.None)).StatusCode);
            Assert.Equal(400, (await api.PauseBlocking(Post("blocking/pause", "{\"minutes\": -1}"), CancellationToken.None)).StatusCode);
            Assert.Equal(400, (await api.PauseBlocking(Post("blocking/pause", "{}"), CancellationToken.None)).StatusCode);
            Assert.Equal(400, (await api.PauseBlocking(Post("blocking/pause", "not json"), CancellationToken.None)).StatusCode);
            Assert.Equal(400, (await api.PauseBlocking(Post("blocking/pause", "{\"minutes\": 5, \"group\": \"nobody\"}"), CancellationToken.None)).StatusCode);

            ApiResponse paused = await api.PauseBlocking(Post("blocking/pause", "{\"minutes\": 5, \"group\": \"kids\"}"), CancellationToken.None);
            Assert.Equal(200, paused.StatusCode);
            Assert.Equal("kids", Json(paused).GetProperty("group").GetString());
            DateTime until = Json(paused).GetProperty("pausedUntil").GetDateTime();
            Assert.InRange(until - DateTime.UtcNow, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(6));
            Assert.True(Json(await api.Stats(Get("stats"), CancellationToken.None)).GetProperty("blocking").GetProperty("pausedGroups").TryGetProperty("kids", out _));

            await api.PauseBlocking(Post("blocking/pause", "{\"minutes\": 10}"), CancellationToken.None);
            Assert.Equal(Gateway.Plugins.DnsDot.Resolver.ResolveStep.Upstream, harness.Run(DnsTestMessages.Query("ads.example.test", 1)).Step);
            Assert.False(Json(await api.Stats(Get("stats"), CancellationToken.None)).GetProperty("blocking").GetProperty("enabled").GetBoolean());

            await api.PauseBlocking(Post("blocking/pause", "{\"minutes\": 0}"), CancellationToken.None);
            Assert.Equal(Gateway.Plugins.DnsDot.Resolver.ResolveStep.Answered, harness.Run(DnsTestMessages.Query("ads.example.test", 1)).Step);
        }
    }

    [Fact]
    public async Task FlushCache_WithoutCache_ZeroFlushed()
    {
        (FilteringHarness harness, DnsDotApi api, _, _) = await CreateAsync();
        using (harness)
        {
            ApiResponse response = await api.FlushCache(Post("cache/flush", ""), CancellationToken.None);
            Assert.Equal(200, response.StatusCode);
            Assert.Equal(0, Json(response).GetProperty("flushed").GetInt32());
        }
    }

    private sealed class CapturingObserver : IQueryObserver
    {
        public QueryEvent? Last { get; private set; }

        public bool WantsUpstreamMessages => false;

        public void OnAnswered(in QueryRecord record, ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer)
        {
            Last = new QueryEvent { Record = record };
            Last.SetMessages(query, answer);
        }

        public void OnUpstreamExchange(string upstream, System.Net.IPEndPoint endpoint, ReadOnlySpan<byte> query, ReadOnlySpan<byte> response, long sentAt, long receivedAt)
        {
        }
    }
}
