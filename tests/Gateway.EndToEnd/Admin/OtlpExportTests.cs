using Gateway.EndToEnd.DnsDot;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Admin;

/// <summary>host.otlp (issue 17): the published gateway pushes its DNS counters to an OTLP/HTTP receiver.</summary>
public sealed class OtlpExportTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Otlp_HttpProtobuf_ReceiverGetsDnsQueryCountersOfAnsweredQueries()
    {
        using var receiver = new OtlpReceiver(EchoClient.FreePort());
        int dnsPort = EchoClient.FreePort();
        const string Upstream = "{ address: \"127.0.0.1:9\", tlsName: unused.test }";
        string yaml = $"""
            host:
              otlp:
                endpoint: http://127.0.0.1:{receiver.Port}
                protocol: http/protobuf
                intervalSeconds: 1
            dns-dot:
              listen: ["127.0.0.1:{dnsPort}"]
              upstreams: [{Upstream}]
              rules: ["rules/*.csx"]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml, files: new Dictionary<string, string> { ["rules/block.csx"] = "Block(\"blocked.otlp.test\");\n" });
        await gateway.WaitForOutputAsync("OTLP metrics export to http://127.0.0.1:" + receiver.Port + "/v1/metrics (http/protobuf) every 1 s", Patience);

        for (int i = 0; i < 5; i++)
        {
            byte[]? answer = await DnsDotClient.UdpAsync(dnsPort, DnsDotClient.Query("blocked.otlp.test", 1, (ushort)(100 + i)), TimeSpan.FromSeconds(5));
            Assert.NotNull(answer);
            Assert.Equal(3, DnsDotClient.Rcode(answer));
        }

        // Cumulative sums: the receiver sees dns.queries reach 5 NXDOMAIN answers within a few intervals.
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (receiver.Sum("dns.queries", "rcode=NXDOMAIN") < 5)
        {
            Assert.True(Environment.TickCount64 < deadline, "dns.queries{rcode=NXDOMAIN} did not reach 5: " + string.Join(", ", receiver.Latest.Keys.Where(k => k.StartsWith("dns.", StringComparison.Ordinal))));
            await Task.Delay(200);
        }

        Assert.Equal(5, receiver.Sum("dns.queries", "rcode=NXDOMAIN"));
        Assert.Equal("gateway", receiver.ServiceName);
        Assert.Contains(receiver.Latest.Keys, k => k.StartsWith("dns_dot.rules.hits{", StringComparison.Ordinal));
        Assert.Equal(0, await gateway.StopAsync());
    }
}
