using System.Diagnostics;
using System.Text.Json;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>
/// Visibility end to end: the query log file has one valid JSON line per answered query with what decided it
/// (a rule, a list, a local record, the cache, the upstream), and a dnstap collector (Debian's fstrm_capture,
/// read back with dnstap-ldns) receives CLIENT_QUERY/CLIENT_RESPONSE for kdig's queries and FORWARDER_* for the
/// upstream exchange.
/// </summary>
public sealed class QueryLogDnstapTests : IClassFixture<LocalRecordsUpstreamFixture>
{
    private readonly LocalRecordsUpstreamFixture _fixture;

    public QueryLogDnstapTests(LocalRecordsUpstreamFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task QueryLogAndDnstap_KdigQueries_OneJsonLineEachAndDnstapMessages()
    {
        string work = Directory.CreateTempSubdirectory("gateway-qlog-").FullName;
        string socket = Path.Combine(work, "dnstap.sock");
        string capture = Path.Combine(work, "capture.fstrm");
        await using BackgroundProcess collector = BackgroundProcess.Start("fstrm_capture", ["-t", "protobuf:dnstap.Dnstap", "-u", socket, "-w", capture], name: "fstrm_capture");
        var watch = Stopwatch.StartNew();
        while (!File.Exists(socket))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"fstrm_capture did not create its socket: {collector.Output}");
            await Task.Delay(50);
        }

        int port = Kdig.FreePort();
        string log = Path.Combine(work, "query.log");
        await using (GatewayProcess gateway = await GatewayProcess.StartAsync($$"""
            dns-dot:
              listen: ["127.0.0.1:{{port}}"]
              upstreams: [{{Kdig.Upstream(_fixture.Upstream)}}]
              records: ["nas.home.test 300 A 192.168.1.10"]
              lists: [ { name: ads, file: ads.txt, format: adblock } ]
              rules: ["rules/*.csx"]
              queryLog: { path: "{{log}}", maxSizeMB: 10, keep: 2 }
              dnstap: { socket: "{{socket}}" }
            """, files: new Dictionary<string, string>
            {
                ["ads.txt"] = "||ads.example.test^\n",
                ["rules/main.csx"] = "Refuse(\"internal.test\");\n",
            }))
        {
            await gateway.WaitForOutputAsync("dnstap: connected", TimeSpan.FromSeconds(30));
            await WaitForListAsync(port);
            string[] queries = ["ads.example.test", "internal.test", "nas.home.test", "a.test", "a.test"];
            foreach (string name in queries)
            {
                await Kdig.QueryAsync(port, name, "A");
            }

            // The writer flushes every few milliseconds: wait for the lines, then make sure no extra ones come.
            JsonElement[] entries = [];
            var deadline = Stopwatch.StartNew();
            while ((entries = Entries(log)).Length < queries.Length && deadline.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }

            await Task.Delay(500);
            entries = Entries(log);
            Assert.Equal(queries.Length, entries.Length);
            Assert.Equal(queries, entries.Select(e => e.GetProperty("name").GetString()));
            Assert.Equal(["list:ads", "rule:main.csx:1", "record", "upstream", "cache"], entries.Select(e => e.GetProperty("reason").GetString()));
            Assert.Equal(["NXDOMAIN", "REFUSED", "NOERROR", "NOERROR", "NOERROR"], entries.Select(e => e.GetProperty("rcode").GetString()));
            Assert.True(entries[0].GetProperty("blocked").GetBoolean());
            Assert.Equal(["A 192.168.1.10"], entries[2].GetProperty("answers").EnumerateArray().Select(a => a.GetString()));
            Assert.Equal(_fixture.Upstream.Address, entries[3].GetProperty("upstream").GetString());
            foreach (JsonElement entry in entries)
            {
                Assert.Equal("127.0.0.1", entry.GetProperty("client").GetString());
                Assert.Equal("udp", entry.GetProperty("transport").GetString());
                Assert.Equal("A", entry.GetProperty("type").GetString());
                Assert.True(DateTimeOffset.TryParse(entry.GetProperty("time").GetString(), out _));
                Assert.True(entry.GetProperty("latencyMs").GetDouble() >= 0);
            }
        }

        // The gateway stopped (STOP/FINISH); fstrm_capture closes its file on SIGTERM.
        await collector.StopAsync();
        CommandResult read = await ProcessRunner.RunAsync("dnstap-ldns", ["-r", capture], TimeSpan.FromSeconds(30));
        string text = read.Output;
        Assert.True(read.ExitCode == 0, text);
        Assert.Contains("CQ 127.0.0.1 UDP", text);
        Assert.Contains("CR 127.0.0.1 UDP", text);
        Assert.Contains("\"nas.home.test.\" IN A", text);
        Assert.Contains("\"internal.test.\" IN A", text);
        Assert.Contains("FQ ", text);
        Assert.Contains("FR ", text);
        Directory.Delete(work, recursive: true);
    }

    private static async Task WaitForListAsync(int port)
    {
        var watch = Stopwatch.StartNew();
        while (!(await Kdig.QueryAsync(port, "probe.ads.example.test", "A")).Contains("status: NXDOMAIN", StringComparison.Ordinal))
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "the ads list did not load");
            await Task.Delay(100);
        }
    }

    // Every line must be valid JSON; the probes of WaitForListAsync are left out.
    private static JsonElement[] Entries(string path) =>
        [.. ReadLines(path).Select(line => JsonDocument.Parse(line).RootElement).Where(e => e.GetProperty("name").GetString() != "probe.ads.example.test")];

    private static string[] ReadLines(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
