using System.Diagnostics;
using Gateway.EndToEnd.DnsDot.Filtering;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Kit;

/// <summary>
/// Kubernetes ConfigMap mounts (issue 20, deploy/kubernetes): gateway.yaml and a rule script are links into
/// <c>..data</c>, and an edit of the ConfigMap arrives as kubelet's swap of the <c>..data</c> link
/// (<see cref="ConfigMapVolume"/>) — gateway.yaml itself never changes. The published gateway applies the new config
/// and the new rules without a restart.
/// </summary>
public sealed class ConfigMapReloadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task DataLinkSwap_LikeKubelet_NewRecordsAndRulesApplyWithoutRestart()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "configmap-" + Guid.NewGuid().ToString("N")[..12]);
        int dns = Kdig.FreePort();
        await ConfigMapVolume.PublishAsync(folder, Files(dns, "10.0.0.1", "first.configmap.test"));
        string exe = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "gateway");
        await using BackgroundProcess gateway = BackgroundProcess.Start(exe, ["run", "--config", Path.Combine(folder, "gateway.yaml")], name: "gateway", workingDirectory: folder);
        await gateway.WaitForOutputAsync(GatewayProcess.ReadyLine, Patience);

        // A cold rules-cache compiles in the background after "gateway ready" (rulesStartup: fast).
        await gateway.WaitForOutputAsync(GatewayProcess.RulesLoadedLine, Patience);
        Assert.Equal(["10.0.0.1"], await Kdig.ShortAsync(dns, "swap.configmap.test", "A"));
        Assert.Contains("status: NXDOMAIN", await Kdig.QueryAsync(dns, "first.configmap.test", "A"));

        await ConfigMapVolume.PublishAsync(folder, Files(dns, "10.0.0.2", "second.configmap.test"));

        await gateway.WaitForOutputAsync("config reloaded from " + Path.Combine(folder, "gateway.yaml"), Patience);
        var watch = Stopwatch.StartNew();
        while (!(await Kdig.ShortAsync(dns, "swap.configmap.test", "A")).SequenceEqual(["10.0.0.2"]) ||
            !(await Kdig.QueryAsync(dns, "second.configmap.test", "A")).Contains("status: NXDOMAIN", StringComparison.Ordinal))
        {
            Assert.True(watch.Elapsed < Patience, "the swapped ConfigMap's records and rules did not apply: " + gateway.Output);
            await Task.Delay(200);
        }

        Assert.DoesNotContain("status: NXDOMAIN", await Kdig.QueryAsync(dns, "first.configmap.test", "A"));
        Assert.False(gateway.HasExited);
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>The ConfigMap's keys: gateway.yaml with one local record, and a rule script blocking one name.</summary>
    private static Dictionary<string, string> Files(int dns, string address, string blocked) => new()
    {
        ["gateway.yaml"] = $$"""
            dns-dot:
              listen: ["127.0.0.1:{{dns}}"]
              upstreams: [{ address: "127.0.0.1:9", tlsName: unused.test }]
              records: ["swap.configmap.test 60 A {{address}}", "first.configmap.test 60 A 10.0.0.9", "second.configmap.test 60 A 10.0.0.9"]
              rules: ["*.csx"]
            """,
        ["block.csx"] = $"Block(\"{blocked}\");\n",
    };
}
