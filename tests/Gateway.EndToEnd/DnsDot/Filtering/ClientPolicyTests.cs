using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>
/// Per-client policy end to end (issue 16): the gateway runs in its own namespace with two unbound DoT upstreams
/// that answer the same name differently; two client namespaces, each joined to it by a veth pair, are in
/// different <c>clients:</c> groups. The kids get the name blocked; the other group gets it from its own upstream group.
/// </summary>
public sealed class ClientPolicyTests
{
    [Fact]
    public async Task Kdig_TwoClientGroupsFromTwoNamespaces_BlockedVersusOtherUpstreamGroup()
    {
        await using NetworkNamespace gw = await NetworkNamespace.CreateAsync("cpgw");
        await using NetworkNamespace kids = await NetworkNamespace.CreateAsync("cpkid");
        await using NetworkNamespace adults = await NetworkNamespace.CreateAsync("cpadu");
        await gw.ShCheckedAsync("ip link set lo up");
        await kids.ShCheckedAsync("ip link set lo up");
        await adults.ShCheckedAsync("ip link set lo up");
        await gw.ConnectAsync(kids, "10.61.1.1/24", "10.61.1.2/24", "cpk");
        await gw.ConnectAsync(adults, "10.61.2.1/24", "10.61.2.2/24", "cpa");

        await using UnboundDot main = await UnboundDot.StartAsync(gw, ["games.example.test. 300 IN A 10.0.1.1"]);
        await using UnboundDot alternative = await UnboundDot.StartAsync(gw, ["games.example.test. 300 IN A 10.0.2.2"]);
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($$"""
            dns-dot:
              listen: ["10.61.1.1:53", "10.61.2.1:53"]
              upstreams: [{{Kdig.Upstream(main)}}]
              groups:
                alternative: { upstreams: [{{Kdig.Upstream(alternative)}}] }
              lists:
                - { name: games, file: games.txt, format: domains }
              clients:
                kids: { networks: [10.61.1.0/24], lists: [games] }
                adults: { networks: [10.61.2.0/24], lists: [], upstream: alternative }
            """, netns: gw, files: new Dictionary<string, string> { ["games.txt"] = "games.example.test\n" });

        string kid = await kids.ShCheckedAsync("kdig @10.61.1.1 +time=5 +retry=1 games.example.test A");
        Assert.Contains("status: NXDOMAIN", kid);

        string adult = await adults.ShCheckedAsync("kdig @10.61.2.1 +time=5 +retry=1 +short games.example.test A");
        Assert.Equal("10.0.2.2", adult.Trim());
    }
}
