using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Infrastructure;
using Gateway.EndToEnd.Tun;

namespace Gateway.EndToEnd.Host;

/// <summary>
/// The published gateway under a DNS load (dnsperf) in a namespace, unbound as its DoT upstream. Issue 14 "Done
/// means": a load running while the dns-dot plugin folder is replaced loses no query — through a host socket (UDP and
/// TCP) and through the TUN's virtual IP 10.30.30.30 — and a broken replacement leaves the old version answering.
/// Issue 13: malformed packets written into the TUN meanwhile are dropped and counted, and DNS keeps being served.
/// </summary>
public sealed partial class DnsDotUnderLoadTests : IAsyncLifetime
{
    private const string VirtualIp = "10.30.30.30";
    private const string VirtualIpV6 = "fd30::30";
    private const int LoadSeconds = 15;
    private const int QueriesPerSecond = 150;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private NetworkNamespace _ns = null!;
    private UnboundDot _unbound = null!;
    private string _plugins = null!;
    private string _queries = null!;
    private int _port;
    private int _adminPort;

    public async Task InitializeAsync()
    {
        _ns = await NetworkNamespace.CreateAsync("dnsswap");
        _unbound = await UnboundDot.StartAsync(_ns);

        // A plugin root of our own holding only dns-dot, so that its folder can be replaced.
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        _plugins = Path.Combine(Path.GetTempPath(), "gateway-e2e", "swap-" + Guid.NewGuid().ToString("N")[..12]);
        EchoClient.CopyFolder(Path.Combine(gateway, "plugins", "dns-dot"), Path.Combine(_plugins, "dns-dot"));

        // Half answered from the cache, half (unique names, NXDOMAIN from unbound) forwarded over DoT while swapping.
        var queries = new StringBuilder();
        for (int i = 0; i < LoadSeconds * QueriesPerSecond / 2; i++)
        {
            queries.Append("a.test A\n").Append(CultureInfo.InvariantCulture, $"swap{i}.nx.test A\n");
        }

        _queries = _plugins + "-queries.txt";
        await File.WriteAllTextAsync(_queries, queries.ToString());
        _port = EchoClient.FreePort();
        _adminPort = NetworkNamespace.RandomPort();
    }

    public async Task DisposeAsync()
    {
        await _unbound.DisposeAsync();
        await _ns.DisposeAsync();
    }

    [Fact]
    public async Task Replace_DnsDotFolderUnderLoad_NoQueryLostOnSocketTcpAndTun()
    {
        await using GatewayProcess gateway = await StartGatewayAsync();
        Task<Load[]> load = RunLoadAsync();
        await Task.Delay(3000);

        // The same build copied over the running one, file by file, as an operator's deploy would.
        string gatewayDirectory = await GatewayBuild.GatewayDirectoryAsync();
        EchoClient.RedeployFolder(Path.Combine(gatewayDirectory, "plugins", "dns-dot"), Path.Combine(_plugins, "dns-dot"));

        await gateway.WaitForOutputAsync("plugin dns-dot: old version draining", Patience);
        Assert.False(load.IsCompleted, "the swap finished only after the load: nothing was measured during it");

        Load[] results = await load;
        foreach (Load result in results)
        {
            Assert.True(result.Sent >= LoadSeconds * QueriesPerSecond / 2, result.ToString());
            Assert.True(result.Lost == 0 && result.Completed == result.Sent, result.ToString());
            Assert.True(result.OnlyNoErrorAndNxDomain, result.ToString());
        }

        // With the load over, its TCP connections closed: the old version finishes draining and is unloaded.
        await gateway.WaitForOutputAsync("plugin dns-dot: unloaded (load context collected)", Patience);
        Assert.Contains("status: NOERROR", await KdigAsync(VirtualIp, 53, "a.test"));
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Fact]
    public async Task Replace_BrokenDnsDotBuildUnderLoad_OldVersionKeepsAnsweringEveryQuery()
    {
        await using GatewayProcess gateway = await StartGatewayAsync();
        Task<Load[]> load = RunLoadAsync();
        await Task.Delay(3000);

        // A broken build: it carries its own Gateway.Sdk.dll, which the loader refuses.
        string gatewayDirectory = await GatewayBuild.GatewayDirectoryAsync();
        File.Copy(Path.Combine(gatewayDirectory, "Gateway.Sdk.dll"), Path.Combine(_plugins, "dns-dot", "Gateway.Sdk.dll"));

        await gateway.WaitForOutputAsync("plugin dns-dot: the new build was not taken, the running version keeps serving", Patience);
        Assert.False(load.IsCompleted, "the refusal came only after the load: nothing was measured during it");
        Assert.Contains("Gateway.Sdk.dll found in", gateway.Output);

        foreach (Load result in await load)
        {
            Assert.True(result.Lost == 0 && result.Completed == result.Sent && result.Sent > 0, result.ToString());
            Assert.True(result.OnlyNoErrorAndNxDomain, result.ToString());
        }

        Assert.Contains("status: NOERROR", await KdigAsync("127.0.0.1", _port, "a.test"));
        Assert.Contains("status: NOERROR", await KdigAsync(VirtualIp, 53, "a.test"));
        Assert.DoesNotContain("plugin dns-dot: stopped", gateway.Output);
        Assert.DoesNotContain("plugin dns-dot: old version draining", gateway.Output);
    }

    [Fact]
    public async Task MalformedPackets_IntoTunDuringDnsLoad_DroppedAndCountedNoQueryLost()
    {
        await using GatewayProcess gateway = await StartGatewayAsync();
        long before = await DroppedAsync();
        Task<Load[]> load = RunLoadAsync();
        await Task.Delay(1000);

        string output = await NamespacePython.RunCheckedAsync(_ns, MalformedPackets.Script("gwswap0", "10.30.30.1", VirtualIp, 53, "fd30::1", VirtualIpV6));
        int sent = int.Parse(output.Trim(), CultureInfo.InvariantCulture);
        Assert.Equal(MalformedPackets.Count(withV6: true), sent);
        Assert.False(load.IsCompleted, "the malformed packets were written only after the load");

        foreach (Load result in await load)
        {
            Assert.True(result.Lost == 0 && result.Completed == result.Sent && result.Sent > 0, result.ToString());
            Assert.True(result.OnlyNoErrorAndNxDomain, result.ToString());
        }

        long dropped = await DroppedAsync();
        Assert.True(dropped - before >= sent, $"{sent} malformed packets written, {dropped - before} counted as dropped on /metrics");
        foreach (string server in new[] { VirtualIp, VirtualIpV6 })
        {
            Assert.Contains("status: NOERROR", await KdigAsync(server, 53, "a.test"));
            Assert.Contains("status: NOERROR", await KdigAsync(server, 53, "+tcp a.test"));
        }

        Assert.False(gateway.HasExited, gateway.Output);
    }

    /// <summary><c>gateway_tun_dropped_total</c> summed over its reasons.</summary>
    private async Task<long> DroppedAsync()
    {
        string text = await _ns.ShCheckedAsync($"curl -sf --max-time 10 http://127.0.0.1:{_adminPort}/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith("gateway_tun_dropped_total", StringComparison.Ordinal))
            .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private async Task<GatewayProcess> StartGatewayAsync()
    {
        GatewayProcess gateway = await GatewayProcess.StartAsync(
            $$"""
            host:
              plugins: ["{{_plugins}}"]
              drainTimeoutSeconds: 30
              tun: { enabled: true, name: "gwswap0", addresses: ["10.30.30.1/24", "fd30::1/64"] }
              admin: { listen: "127.0.0.1:{{_adminPort}}" }
            dns-dot:
              listen: ["127.0.0.1:{{_port}}"]
              virtual: ["{{VirtualIp}}:53", "[{{VirtualIpV6}}]:53"]
              upstreams:
                - { address: "{{_unbound.Address}}", tlsName: "{{UnboundDot.TlsName}}", caFile: "{{_unbound.CaFile}}" }
            """,
            _ns);

        // Warm: both paths answer before the load starts.
        Assert.Contains("status: NOERROR", await KdigAsync("127.0.0.1", _port, "a.test"));
        Assert.Contains("status: NOERROR", await KdigAsync(VirtualIp, 53, "a.test"));
        return gateway;
    }

    /// <summary>dnsperf for <see cref="LoadSeconds"/> s at a steady rate: UDP and TCP to the host socket, UDP to the virtual IP.</summary>
    private Task<Load[]> RunLoadAsync() => Task.WhenAll(
        DnsperfAsync("udp 127.0.0.1", $"-s 127.0.0.1 -p {_port} -m udp"),
        DnsperfAsync("tcp 127.0.0.1", $"-s 127.0.0.1 -p {_port} -m tcp -c 4"),
        DnsperfAsync("udp " + VirtualIp, $"-s {VirtualIp} -p 53 -m udp"));

    private async Task<Load> DnsperfAsync(string name, string target)
    {
        CommandResult result = await _ns.ShAsync(
            $"dnsperf {target} -d '{_queries}' -l {LoadSeconds} -Q {QueriesPerSecond} -t 3", TimeSpan.FromSeconds(LoadSeconds + 60));
        Assert.True(result.ExitCode == 0, result.Output);
        return Load.Parse(name, result.StdOut);
    }

    private async Task<string> KdigAsync(string server, int port, string name) =>
        (await _ns.ShAsync($"kdig @{server} -p {port} +time=5 +retry=2 {name} A", TimeSpan.FromSeconds(30))).Output;

    /// <summary>One dnsperf run's summary.</summary>
    private sealed record Load(string Name, long Sent, long Completed, long Lost, string ResponseCodes, string Output)
    {
        public bool OnlyNoErrorAndNxDomain => ResponseCodes.Split(',').All(c => c.Trim().StartsWith("NOERROR", StringComparison.Ordinal) || c.Trim().StartsWith("NXDOMAIN", StringComparison.Ordinal));

        public static Load Parse(string name, string output) => new(
            name,
            Number(SentPattern(), output),
            Number(CompletedPattern(), output),
            Number(LostPattern(), output),
            CodesPattern().Match(output) is { Success: true } codes ? codes.Groups[1].Value : string.Empty,
            output);

        public override string ToString() => $"{Name}: sent {Sent}, completed {Completed}, lost {Lost}, codes {ResponseCodes}\n{Output}";

        private static long Number(Regex pattern, string output) =>
            pattern.Match(output) is { Success: true } match ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : -1;
    }

    [GeneratedRegex(@"Queries sent:\s+(\d+)")]
    private static partial Regex SentPattern();

    [GeneratedRegex(@"Queries completed:\s+(\d+)")]
    private static partial Regex CompletedPattern();

    [GeneratedRegex(@"Queries lost:\s+(\d+)")]
    private static partial Regex LostPattern();

    [GeneratedRegex(@"Response codes:\s+([^\n]*)")]
    private static partial Regex CodesPattern();
}
