using System.Globalization;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// Issue 14: the wireguard plugin folder of a running published gateway is replaced while a tunnel to wireguard-go is
/// up and pinged. Its UDP port and UAPI socket can be owned by one version only: the old version hands them over to
/// the new one, which takes over the tunnel with a fresh handshake; pings flow again within a few seconds, `wg` talks
/// to the new version, and the old one is unloaded. A broken replacement leaves the old version serving the same
/// session. The gateway runs in namespace A (TUN 10.99.0.1/24), wireguard-go in B (10.99.0.2), joined by a veth pair.
/// </summary>
public sealed partial class WireGuardSwapTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const double PingInterval = 0.1;
    private const int Pings = 200;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private NetworkNamespace _a = null!;
    private NetworkNamespace _b = null!;
    private int _gatewayPort;
    private string _tun = null!;
    private string _psk = null!;
    private string _privateKey = null!;
    private string _publicKey = null!;
    private string _plugins = null!;

    public async Task InitializeAsync()
    {
        _a = await NetworkNamespace.CreateAsync("wgsa");
        _b = await NetworkNamespace.CreateAsync("wgsb");
        await _a.ConnectAsync(_b, "192.168.244.1/24", "192.168.244.2/24", "wgs");
        _gatewayPort = NetworkNamespace.RandomPort();
        _tun = $"gwsw{Random.Shared.Next(10000, 99999)}";
        _psk = (await ProcessRunner.ShCheckedAsync("wg genpsk")).Trim();
        _privateKey = (await ProcessRunner.ShCheckedAsync("wg genkey")).Trim();
        _publicKey = (await ProcessRunner.RunAsync("wg", ["pubkey"], stdin: _privateKey + "\n")).StdOut.Trim();

        // A plugin root of our own holding only wireguard, so that its folder can be replaced.
        _plugins = Path.Combine(Path.GetTempPath(), "gateway-e2e", "wgswap-" + Guid.NewGuid().ToString("N")[..12]);
        EchoClient.CopyFolder(await PublishedWireGuardAsync(), Path.Combine(_plugins, "wireguard"));
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        Directory.Delete(_plugins, recursive: true);
    }

    [Fact]
    public async Task Replace_WireGuardFolderWhilePinged_NewVersionTakesPortAndUapiPingsResumeWithinSeconds()
    {
        await using WireGuardGoPeer b = await WireGuardGoPeer.StartAsync(_b, _gatewayPort + 1, _publicKey, _psk, $"192.168.244.1:{_gatewayPort}");
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(b.PublicKey), _a);
        await AssertPingAsync(_b, "10.99.0.1");
        long handshake = await LatestHandshakeAsync(b.PublicKey);
        Assert.NotEqual(0, handshake);

        Task<CommandResult> pings = _b.ShAsync(FormattableString.Invariant($"ping -i {PingInterval} -c {Pings} -W 1 10.99.0.1"), TimeSpan.FromSeconds(90));
        await Task.Delay(2000);

        EchoClient.RedeployFolder(await PublishedWireGuardAsync(), Path.Combine(_plugins, "wireguard"));
        await WaitForEitherAsync(gateway, "plugin wireguard: old version draining", "plugin wireguard: the new build was not taken");
        Assert.False(pings.IsCompleted, "the swap finished only after the pings: nothing was measured during it");

        CommandResult result = await pings;
        (int received, double longestGap) = PingGap(result.StdOut);
        output.WriteLine($"{received} of {Pings} pings answered; the longest time without a reply: {longestGap:F1} s");
        Assert.True(longestGap <= 5.0, $"pings stopped for {longestGap:F1} s around the swap ({received} of {Pings} answered):\n{result.StdOut}\n{gateway.Output}");
        Assert.True(received >= Pings - (int)(5.0 / PingInterval), result.StdOut);

        // The new version serves `wg` on the UAPI socket, with a session of its own (a new handshake).
        Assert.True(await LatestHandshakeAsync(b.PublicKey) > 0);
        await gateway.WaitForOutputAsync("plugin wireguard: unloaded (load context collected)", Patience);
        Assert.Equal(2, PluginDropInTests.CountOf(gateway.Output, "plugin wireguard: started"));
        Assert.DoesNotContain("leak", gateway.Output);
        Assert.DoesNotContain("could not be created", gateway.Output);
        Assert.Equal(2, PluginDropInTests.CountOf(gateway.Output, "UAPI listening on /var/run/wireguard/" + _tun + ".sock"));
        string show = await _a.ShCheckedAsync($"wg show {_tun} peers");
        Assert.Contains(b.PublicKey, show);
        await AssertPingAsync(_b, "10.99.0.1");
        Assert.False(gateway.HasExited);
    }

    [Fact]
    public async Task Replace_BrokenWireGuardBuildWhilePinged_OldVersionKeepsPortAndSessionNoPingLost()
    {
        await using WireGuardGoPeer b = await WireGuardGoPeer.StartAsync(_b, _gatewayPort + 1, _publicKey, _psk, $"192.168.244.1:{_gatewayPort}");
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(b.PublicKey), _a);
        await AssertPingAsync(_b, "10.99.0.1");
        long handshake = await LatestHandshakeAsync(b.PublicKey);

        Task<CommandResult> pings = _b.ShAsync(FormattableString.Invariant($"ping -i {PingInterval} -c 80 -W 2 10.99.0.1"), TimeSpan.FromSeconds(60));
        await Task.Delay(1000);

        // A broken build: it carries its own Gateway.Sdk.dll, which the loader refuses before anything is released.
        File.Copy(Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "Gateway.Sdk.dll"), Path.Combine(_plugins, "wireguard", "Gateway.Sdk.dll"));
        await gateway.WaitForOutputAsync("plugin wireguard: the new build was not taken, the running version keeps serving", Patience);
        Assert.False(pings.IsCompleted, "the refusal came only after the pings");

        CommandResult result = await pings;
        Assert.Contains("80 packets transmitted, 80 received", result.StdOut);
        Assert.Equal(handshake, await LatestHandshakeAsync(b.PublicKey));
        Assert.DoesNotContain("plugin wireguard: old version draining", gateway.Output);
        Assert.DoesNotContain("handed to the new version", gateway.Output);
        Assert.Equal(1, PluginDropInTests.CountOf(gateway.Output, "plugin wireguard: started"));
    }

    private static async Task<string> PublishedWireGuardAsync() => Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "plugins", "wireguard");

    /// <summary>Replies received and the longest time without one (from the icmp_seq numbers of the replies).</summary>
    private static (int Received, double LongestGap) PingGap(string output)
    {
        var seqs = SeqPattern().Matches(output).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        int previous = 0, longest = 0;
        foreach (int seq in seqs.Append(Pings + 1))
        {
            longest = Math.Max(longest, seq - previous - 1);
            previous = seq;
        }

        return (seqs.Count, longest * PingInterval);
    }

    private static async Task WaitForEitherAsync(GatewayProcess gateway, string wanted, string refused)
    {
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (!gateway.Output.Contains(wanted, StringComparison.Ordinal))
        {
            Assert.False(gateway.Output.Contains(refused, StringComparison.Ordinal), "the swap was refused:\n" + gateway.Output);
            Assert.True(Environment.TickCount64 < deadline, $"no '{wanted}' within {Patience.TotalSeconds} s:\n{gateway.Output}");
            await Task.Delay(100);
        }
    }

    private async Task<long> LatestHandshakeAsync(string peer)
    {
        string text = await _a.ShCheckedAsync($"wg show {_tun} latest-handshakes");
        Match match = Regex.Match(text, Regex.Escape(peer) + @"\t(\d+)");
        Assert.True(match.Success, text);
        return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static async Task AssertPingAsync(NetworkNamespace ns, string address)
    {
        CommandResult ping = await ns.ShAsync($"ping -c 3 -i 0.3 -w 30 {address}", TimeSpan.FromSeconds(45));
        Assert.True(ping.ExitCode == 0, $"ping {address} from {ns.Name}: {ping.Output}");
    }

    private string Config(string peerKey) =>
        "host:\n" +
        $"  plugins: [\"{_plugins}\"]\n" +
        "  drainTimeoutSeconds: 30\n" +
        $"  tun: {{ enabled: true, name: \"{_tun}\", addresses: [\"10.99.0.1/24\", \"fd99::1/64\"], mtu: 1420 }}\n" +
        "wireguard:\n" +
        $"  privateKey: \"{_privateKey}\"\n" +
        $"  listenPort: {_gatewayPort}\n" +
        "  peers:\n" +
        $"    - {{ publicKey: \"{peerKey}\", presharedKey: \"{_psk}\", endpoint: \"192.168.244.2:{_gatewayPort + 1}\", allowedIps: [\"10.99.0.2/32\"] }}\n";

    [GeneratedRegex(@"icmp_seq=(\d+)")]
    private static partial Regex SeqPattern();
}
