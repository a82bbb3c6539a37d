using System.Text.RegularExpressions;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The published gateway forwarding to real unbounds over each upstream transport of issue 15 — udp://, tcp://,
/// https:// (RFC 8484 with a CA the test made), tls:// by host name through <c>bootstrap:</c> — and the split DNS and
/// failover set-ups they are for. kdig asks the gateway's plain listener.
/// </summary>
public sealed class DnsDotUpstreamTransportTests : IClassFixture<UnboundDotFixture>
{
    private static readonly TimeSpan KdigTimeout = TimeSpan.FromSeconds(30);
    private readonly UnboundDot _unbound;

    public DnsDotUpstreamTransportTests(UnboundDotFixture fixture) => _unbound = fixture.Unbound;

    private static async Task<string> KdigAsync(int port, params string[] args) =>
        (await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", port.ToString(), "+time=5", "+retry=0", .. args], KdigTimeout)).Output;

    /// <summary>
    /// Asks until the first answer comes (at most a minute): the first query pays for JIT, bootstrap resolution and
    /// the upstream's connection (TLS, HTTP/2), which on a loaded 2-core machine can outlast kdig's 5 s.
    /// </summary>
    private static async Task WarmUpAsync(int port)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!(await KdigAsync(port, "warm.a.test", "A")).Contains("status: NXDOMAIN"))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "no answer through the gateway within a minute");
        }
    }

    private static async Task<(GatewayProcess Gateway, int Port, int Admin)> StartAsync(string section, IReadOnlyDictionary<string, string>? files = null)
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        int admin = PrometheusText.FreePort();
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              cache: {"{"} enabled: false {"}"}
            {section}
            """;
        return (await GatewayProcess.StartAsync(yaml, files: files), port, admin);
    }

    private string Upstream(string transport) => transport switch
    {
        "udp" => $"{{ address: \"{_unbound.UdpUrl}\" }}",
        "tcp" => $"{{ address: \"{_unbound.TcpUrl}\" }}",
        _ => $"{{ address: \"{_unbound.HttpsUrl}\", tlsName: \"{UnboundDot.TlsName}\", caFile: \"{_unbound.CaFile}\" }}",
    };

    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    [InlineData("https")]
    public async Task Kdig_ThroughPlainOrDohUpstream_RightAnswers(string transport)
    {
        (GatewayProcess gateway, int port, int admin) = await StartAsync($"  upstreams: [{Upstream(transport)}]");
        await using (gateway)
        {
            await WarmUpAsync(port);
            double readErrors = PrometheusText.Sum(await PrometheusText.FetchAsync(admin), "dns_upstream_read_errors_total");
            foreach (string client in new[] { "+notcp", "+tcp" })
            {
                string a = await KdigAsync(port, client, "a.test", "A");
                Assert.Contains("status: NOERROR", a);
                Assert.Matches(@"a\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1", a);
                Assert.Matches(@"AAAA\s+2001:db8::1", await KdigAsync(port, client, "a.test", "AAAA"));
                Assert.Contains("\"dot peers upstream\"", await KdigAsync(port, client, "txt.test", "TXT"));
                Assert.Contains("status: NXDOMAIN", await KdigAsync(port, client, "nosuch.test", "A"));
            }

            // ~3 KB: over UDP upstream it comes back truncated and is asked again over TCP (RFC 7766 §6.2.1).
            Assert.Contains("record12-", await KdigAsync(port, "+tcp", "big.test", "TXT"));

            string metrics = await PrometheusText.FetchAsync(admin);
            string upstream = transport switch { "udp" => _unbound.UdpUrl, "tcp" => _unbound.TcpUrl, _ => _unbound.HttpsUrl };
            Assert.True(PrometheusText.Sum(metrics, "dns_upstream_duration_seconds_count", $"upstream=\"{upstream}\"") >= 9, metrics);
            Assert.Equal(readErrors, PrometheusText.Sum(metrics, "dns_upstream_read_errors_total"));
            Assert.DoesNotContain("warning", gateway.Output, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task SplitDns_ForwardGroupWithPlainUpstream_NextToDotDefault()
    {
        // The "LAN resolver": another unbound that alone knows corp.test, asked over plain UDP.
        await using UnboundDot lan = await UnboundDot.StartAsync(["intranet.corp.test. 300 IN A 10.9.9.9"]);
        string section = $"""
              upstreams:
                - {"{"} address: "{_unbound.Address}", tlsName: "{UnboundDot.TlsName}", caFile: "{_unbound.CaFile}" {"}"}
              groups:
                corp: {"{"} upstreams: [ {"{"} address: "{lan.UdpUrl}" {"}"} ] {"}"}
              rules: [rules.csx]
            """;
        (GatewayProcess gateway, int port, int admin) = await StartAsync(section, new Dictionary<string, string> { ["rules.csx"] = "Forward(\"corp.test\", group: \"corp\");\n" });
        await using (gateway)
        {
            Assert.Matches(@"intranet\.corp\.test\.\s+\d+\s+IN\s+A\s+10\.9\.9\.9", await KdigAsync(port, "intranet.corp.test", "A"));
            Assert.Matches(@"a\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1", await KdigAsync(port, "a.test", "A"));

            // The DoT default does not know corp.test: had the rule not split it off, this would be NXDOMAIN.
            Assert.Contains("status: NXDOMAIN", (await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", _unbound.PlainPort.ToString(), "+time=5", "+retry=0", "intranet.corp.test", "A"], KdigTimeout)).Output);
            string metrics = await PrometheusText.FetchAsync(admin);
            Assert.Equal(1, PrometheusText.Sum(metrics, "dns_upstream_duration_seconds_count", $"upstream=\"{lan.UdpUrl}\""));
            Assert.Equal(1, PrometheusText.Sum(metrics, "dns_upstream_duration_seconds_count", $"upstream=\"{_unbound.Address}\""));
        }
    }

    [Fact]
    public async Task Failover_DeadDohUpstream_LivePlainOneAnswers()
    {
        int dead = PrometheusText.FreePort();
        string section = $"""
              policy: failover
              upstreams:
                - {"{"} address: "https://127.0.0.1:{dead}/dns-query", tlsName: "{UnboundDot.TlsName}", caFile: "{_unbound.CaFile}" {"}"}
                - {"{"} address: "{_unbound.UdpUrl}" {"}"}
            """;
        (GatewayProcess gateway, int port, int admin) = await StartAsync(section);
        await using (gateway)
        {
            for (int i = 0; i < 5; i++)
            {
                string a = await KdigAsync(port, $"n{i}.a.test", "A");
                Assert.Contains("status: NXDOMAIN", a);
            }

            Assert.Matches(@"A\s+10\.0\.0\.1", await KdigAsync(port, "a.test", "A"));
            string metrics = await PrometheusText.FetchAsync(admin);
            Assert.True(PrometheusText.Sum(metrics, "dns_upstream_connection_errors_total", $"upstream=\"https://127.0.0.1:{dead}/dns-query\"") >= 1, metrics);
            Assert.True(PrometheusText.Sum(metrics, "dns_upstream_duration_seconds_count", $"upstream=\"{_unbound.UdpUrl}\"") >= 6, metrics);
        }
    }

    [Fact]
    public async Task HostNameUpstream_ResolvedThroughBootstrap_NotTheSystemResolver()
    {
        // upstream.test is known only to the unbound's plain port (local data), never to /etc/resolv.conf's resolver.
        await using UnboundDot names = await UnboundDot.StartAsync([$"upstream.test. 30 IN A 127.0.0.1"]);
        string section = $"""
              bootstrap: ["127.0.0.1:{names.PlainPort}"]
              upstreams:
                - {"{"} address: "tls://upstream.test:{_unbound.Port}", caFile: "{_unbound.CaFile}" {"}"}
                - {"{"} address: "https://upstream.test:{_unbound.HttpsPort}/dns-query", caFile: "{_unbound.CaFile}" {"}"}
              policy: roundRobin
            """;
        (GatewayProcess gateway, int port, int admin) = await StartAsync(section);
        await using (gateway)
        {
            await WarmUpAsync(port);
            for (int i = 0; i < 4; i++)
            {
                Assert.Matches(@"A\s+10\.0\.0\.1", await KdigAsync(port, "a.test", "A"));
            }

            string metrics = await PrometheusText.FetchAsync(admin);
            Assert.True(PrometheusText.Sum(metrics, "dns_upstream_duration_seconds_count", $"upstream=\"tls://upstream.test:{_unbound.Port}\"") >= 1, metrics);
            Assert.True(PrometheusText.Sum(metrics, "dns_upstream_duration_seconds_count", $"upstream=\"https://upstream.test:{_unbound.HttpsPort}/dns-query\"") >= 1, metrics);
        }
    }

    [Fact]
    public async Task Check_PlainUpstreamOnPublicAddress_WarnsAndPasses()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "plain-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        string config = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, "dns-dot:\n  listen: [127.0.0.1:5398]\n  upstreams:\n    - { address: \"udp://8.8.8.8:53\" }\n    - { address: \"tcp://192.168.1.1:53\" }\n");
        string gateway = await GatewayBuild.GatewayDirectoryAsync();

        CommandResult result = await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", config], TimeSpan.FromMinutes(2));

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Matches($@"{Regex.Escape(config)}:4:\d+: dns-dot\.upstreams\[0\]\.address: warning: udp://8\.8\.8\.8:53 sends queries in the clear to a public address", result.StdErr);
        Assert.DoesNotContain("192.168.1.1", result.StdErr);
        Assert.Contains("config OK", result.StdOut);
    }
}
