using System.Diagnostics;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// Issue 14, "Done means": gateway.yaml of a running published gateway is edited to add one WireGuard peer and
/// remove another, like `wg syncconf`. The gateway (namespace A, TUN 10.99.0.1/24) has three wireguard-go peers in
/// namespaces of their own, each joined to A by a veth pair: B (10.99.0.2, kept), C (10.99.0.3, added) and
/// D (10.99.0.4, removed). Only addresses inside these namespaces are used.
/// </summary>
public sealed class WireGuardReloadTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(3);

    private NetworkNamespace _a = null!;
    private NetworkNamespace _b = null!;
    private NetworkNamespace _c = null!;
    private NetworkNamespace _d = null!;
    private int _gatewayPort;
    private string _tun = null!;
    private string _psk = null!;
    private string _privateKey = null!;
    private string _publicKey = null!;

    public async Task InitializeAsync()
    {
        _a = await NetworkNamespace.CreateAsync("wgra");
        _b = await NetworkNamespace.CreateAsync("wgrb");
        _c = await NetworkNamespace.CreateAsync("wgrc");
        _d = await NetworkNamespace.CreateAsync("wgrd");
        await _a.ConnectAsync(_b, "192.168.241.1/24", "192.168.241.2/24", "wgb");
        await _a.ConnectAsync(_c, "192.168.242.1/24", "192.168.242.2/24", "wgc");
        await _a.ConnectAsync(_d, "192.168.243.1/24", "192.168.243.2/24", "wgd");
        _gatewayPort = NetworkNamespace.RandomPort();
        _tun = $"gwrl{Random.Shared.Next(10000, 99999)}";
        _psk = (await ProcessRunner.ShCheckedAsync("wg genpsk")).Trim();
        _privateKey = (await ProcessRunner.ShCheckedAsync("wg genkey")).Trim();
        _publicKey = (await ProcessRunner.RunAsync("wg", ["pubkey"], stdin: _privateKey + "\n")).StdOut.Trim();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _c.DisposeAsync();
        await _d.DisposeAsync();
    }

    [Fact]
    public async Task EditConfig_PeerAddedAndPeerRemoved_LiveWithinThreeSecondsUnchangedPeerUntouched()
    {
        int portB = _gatewayPort + 1, portC = _gatewayPort + 2, portD = _gatewayPort + 3;
        await using WireGuardGoPeer b = await WireGuardGoPeer.StartAsync(_b, portB, _publicKey, _psk, $"192.168.241.1:{_gatewayPort}", address4: "10.99.0.2/24", address6: "fd99::2/64");
        await using WireGuardGoPeer c = await WireGuardGoPeer.StartAsync(_c, portC, _publicKey, _psk, $"192.168.242.1:{_gatewayPort}", address4: "10.99.0.3/24", address6: "fd99::3/64");
        await using WireGuardGoPeer d = await WireGuardGoPeer.StartAsync(_d, portD, _publicKey, _psk, $"192.168.243.1:{_gatewayPort}", address4: "10.99.0.4/24", address6: "fd99::4/64");
        string peerB = Peer(b.PublicKey, $"192.168.241.2:{portB}", "10.99.0.2/32");
        string peerC = Peer(c.PublicKey, $"192.168.242.2:{portC}", "10.99.0.3/32");
        string peerD = Peer(d.PublicKey, $"192.168.243.2:{portD}", "10.99.0.4/32");
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(peerB, peerD), _a);
        int pid = gateway.Pid;

        await AssertPingAsync(_b, "10.99.0.1");
        await AssertPingAsync(_d, "10.99.0.1");
        long handshakeB = await LatestHandshakeAsync(b.PublicKey);
        Assert.NotEqual(0, handshakeB);

        // B pings all through the edit: every one of its 160 packets must come back.
        Task<CommandResult> steady = _b.ShAsync("ping -q -i 0.05 -c 160 -W 2 10.99.0.1", TimeSpan.FromSeconds(60));
        await Task.Delay(1000);

        var clock = Stopwatch.StartNew();
        string temp = gateway.ConfigPath + ".tmp";
        await File.WriteAllTextAsync(temp, Config(peerB, peerC));
        File.Move(temp, gateway.ConfigPath, overwrite: true);
        await gateway.WaitForOutputAsync("config reload applied", TimeSpan.FromSeconds(10));
        TimeSpan applied = clock.Elapsed;

        // C, added: its first ping after the change gets through (wireguard-go handshakes with the gateway first).
        CommandResult pingC = await _c.ShAsync("ping -c 1 -W 2 10.99.0.1", TimeSpan.FromSeconds(10));
        TimeSpan cReached = clock.Elapsed;
        Assert.True(pingC.ExitCode == 0, $"C could not ping after the reload: {pingC.Output}\n{gateway.Output}");
        Assert.True(cReached <= Limit, $"C reached the gateway {cReached.TotalSeconds:F1} s after the edit (reload applied after {applied.TotalSeconds:F1} s)");

        // D, removed: no answer any more, already at the time C got in.
        Assert.True(applied <= Limit, $"the reload took {applied.TotalSeconds:F1} s");
        CommandResult pingD = await _d.ShAsync("ping -c 3 -i 0.2 -W 1 10.99.0.1", TimeSpan.FromSeconds(10));
        Assert.NotEqual(0, pingD.ExitCode);
        Assert.Contains(" 0 received", pingD.StdOut);

        // `wg show` on our UAPI agrees: C is there, D is gone, B is still there.
        string show = await _a.ShCheckedAsync($"wg show {_tun} peers");
        Assert.Contains(b.PublicKey, show);
        Assert.Contains(c.PublicKey, show);
        Assert.DoesNotContain(d.PublicKey, show);

        // B: no packet lost, the same session (same handshake time), the same gateway process.
        CommandResult steadyResult = await steady;
        Assert.Matches(@"160 packets transmitted, 160 received", steadyResult.StdOut);
        Assert.Equal(handshakeB, await LatestHandshakeAsync(b.PublicKey));
        Assert.False(gateway.HasExited);
        Assert.Equal(pid, gateway.Pid);
        Assert.Contains("config reload: peer " + d.PublicKey + " removed", gateway.Output);
    }

    private async Task<long> LatestHandshakeAsync(string peer)
    {
        string text = await _a.ShCheckedAsync($"wg show {_tun} latest-handshakes");
        Match match = Regex.Match(text, Regex.Escape(peer) + @"\t(\d+)");
        Assert.True(match.Success, text);
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task AssertPingAsync(NetworkNamespace ns, string address)
    {
        CommandResult ping = await ns.ShAsync($"ping -c 3 -i 0.3 -w 30 {address}", TimeSpan.FromSeconds(45));
        Assert.True(ping.ExitCode == 0, $"ping {address} from {ns.Name}: {ping.Output}");
    }

    private string Peer(string publicKey, string endpoint, string allowed) =>
        $"    - {{ publicKey: \"{publicKey}\", presharedKey: \"{_psk}\", endpoint: \"{endpoint}\", allowedIps: [\"{allowed}\"] }}\n";

    private string Config(params string[] peers) =>
        "host:\n" +
        $"  tun: {{ enabled: true, name: \"{_tun}\", addresses: [\"10.99.0.1/24\", \"fd99::1/64\"], mtu: 1420 }}\n" +
        "wireguard:\n" +
        $"  privateKey: \"{_privateKey}\"\n" +
        $"  listenPort: {_gatewayPort}\n" +
        "  peers:\n" +
        string.Concat(peers);
}
