using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The published gateway (`gateway run --config`) with dns-dot on a `listen:` host socket, forwarding over DoT
/// to a real unbound; queried with kdig over UDP and TCP.
/// </summary>
public sealed class DnsDotGatewayProcessTests : IClassFixture<UnboundDotFixture>
{
    private static readonly TimeSpan KdigTimeout = TimeSpan.FromSeconds(30);
    private readonly UnboundDot _unbound;

    public DnsDotGatewayProcessTests(UnboundDotFixture fixture) => _unbound = fixture.Unbound;

    private async Task<(GatewayProcess Gateway, int Port, int Admin)> StartAsync(bool cache)
    {
        int port = FreePort();
        int admin = PrometheusText.FreePort();
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              upstreams:
                - {"{"} address: "{_unbound.Address}", tlsName: "upstream.test", caFile: "{_unbound.CaFile}" {"}"}
              cache: {"{"} enabled: {(cache ? "true" : "false")} {"}"}
            """;
        return (await GatewayProcess.StartAsync(yaml), port, admin);
    }

    private static async Task<string> KdigAsync(int port, params string[] args)
    {
        CommandResult result = await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", port.ToString(), "+time=5", "+retry=1", .. args], KdigTimeout);
        return result.Output;
    }

    [Theory]
    [InlineData("+notcp", false)]
    [InlineData("+tcp", false)]
    [InlineData("+notcp", true)]
    [InlineData("+tcp", true)]
    public async Task Kdig_ThroughListenSocket_RightAnswers(string transport, bool cache)
    {
        (GatewayProcess gateway, int port, int admin) = await StartAsync(cache);
        await using (gateway)
        {
            // Twice: the second answers come from the cache when it is on (and the upstream is not asked again).
            var upstreamQueries = new double[2];
            for (int round = 0; round < 2; round++)
            {
                string a = await KdigAsync(port, transport, "a.test", "A");
                Assert.Contains("status: NOERROR", a);
                Assert.Matches(@"a\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1", a);
                Assert.Matches(@"AAAA\s+2001:db8::1", await KdigAsync(port, transport, "a.test", "AAAA"));
                Assert.Matches(@"MX\s+10 a\.test\.", await KdigAsync(port, transport, "mx.test", "MX"));
                Assert.Contains("\"dot peers upstream\"", await KdigAsync(port, transport, "txt.test", "TXT"));
                Assert.Matches(@"c1\.test\.\s+\d+\s+IN\s+CNAME\s+c2\.test\.", await KdigAsync(port, transport, "c1.test", "A"));
                Assert.Contains("status: NXDOMAIN", await KdigAsync(port, transport, "nosuch.test", "A"));
                upstreamQueries[round] = PrometheusText.Sum(await PrometheusText.FetchAsync(admin), "dns_upstream_duration_seconds_count");
            }

            string metrics = await PrometheusText.FetchAsync(admin);
            if (cache)
            {
                Assert.Equal(6, upstreamQueries[0]);
                Assert.Equal(upstreamQueries[0], upstreamQueries[1]);
                Assert.Equal(6, PrometheusText.Sum(metrics, "dns_cache_hits_total"));
            }
            else
            {
                Assert.Equal(12, upstreamQueries[1]);
                Assert.Equal(0, PrometheusText.Sum(metrics, "dns_cache_hits_total"));
            }

            string big = await KdigAsync(port, transport, "+ignore", "+bufsize=1232", "big.test", "TXT");
            if (transport == "+tcp")
            {
                Assert.Contains("record12-", big);
            }
            else
            {
                Assert.Matches(@"Flags: qr [a-z ]*tc", big);
                Assert.DoesNotContain("record01", big);
            }

            Assert.False(gateway.HasExited, gateway.Output);
        }
    }

    [Fact]
    public async Task Kdig_EdnsVersion1_BadVersFromGateway()
    {
        (GatewayProcess gateway, int port, _) = await StartAsync(cache: false);
        await using (gateway)
        {
            string output = await KdigAsync(port, "+notcp", "+edns=1", "a.test", "A");
            Assert.Contains("status: BADVERS", output);
            Assert.Contains("Version: 0;", output);
        }
    }

    internal static int FreePort()
    {
        // A port free for both UDP and TCP on loopback.
        for (int attempt = 0; ; attempt++)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }
}
