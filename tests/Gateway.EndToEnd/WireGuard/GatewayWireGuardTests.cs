using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Noise;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// The published gateway with host.tun enabled and the wireguard plugin, in namespace A (TUN 10.99.0.1/24,
/// fd99::1/64), against Debian's wireguard-go in namespace B (10.99.0.2, fd99::2), joined by a veth pair
/// (192.168.241.1 ↔ .2). Only addresses inside these namespaces are used.
/// </summary>
public sealed class GatewayWireGuardTests : IAsyncLifetime
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);
    private const string AdminTokenValue = "e2e-wireguard-admin-token-0123456789";

    private NetworkNamespace _a = null!;
    private NetworkNamespace _b = null!;
    private int _gatewayPort;
    private int _peerPort;
    private string _tun = null!;
    private string _psk = null!;
    private string _privateKey = null!;
    private string _publicKey = null!;
    private int _adminPort;
    private string _tokenFile = null!;

    public async Task InitializeAsync()
    {
        _a = await NetworkNamespace.CreateAsync("wgga");
        _b = await NetworkNamespace.CreateAsync("wggb");
        await _a.ConnectAsync(_b, "192.168.241.1/24", "192.168.241.2/24", "wgg");
        _gatewayPort = NetworkNamespace.RandomPort();
        _peerPort = _gatewayPort + 1;
        _tun = $"gwwg{Random.Shared.Next(10000, 99999)}";
        _psk = (await ProcessRunner.ShCheckedAsync("wg genpsk")).Trim();
        _privateKey = (await ProcessRunner.ShCheckedAsync("wg genkey")).Trim();
        _publicKey = (await ProcessRunner.RunAsync("wg", ["pubkey"], stdin: _privateKey + "\n")).StdOut.Trim();
        _adminPort = NetworkNamespace.RandomPort();
        _tokenFile = await Admin.AdminToken.WriteAsync(Path.Combine(Path.GetTempPath(), "gateway-e2e", "wg-" + Guid.NewGuid().ToString("N")[..12]), AdminTokenValue);
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Tunnel_PingBothWaysAndWgShow_RepliesAndCountersOnBothSides()
    {
        await using WireGuardGoPeer wg = await StartPeerAsync();
        await using GatewayProcess gateway = await StartGatewayAsync(wg.PublicKey);

        // B → A first (wireguard-go initiates), then A → B over the established session, v4 and v6.
        await AssertPingAsync(_b, "10.99.0.1");
        await AssertPingAsync(_b, "fd99::1");
        await AssertPingAsync(_a, "10.99.0.2");
        await AssertPingAsync(_a, "fd99::2");

        CommandResult ours = await _a.ShAsync($"wg show {_tun}", TimeSpan.FromSeconds(20));
        Assert.True(ours.ExitCode == 0, ours.Output);
        Assert.Contains($"peer: {wg.PublicKey}", ours.StdOut);
        Assert.Contains("latest handshake:", ours.StdOut);
        Assert.Matches(@"transfer: [\d.]+ \w?i?B received, [\d.]+ \w?i?B sent", ours.StdOut);
        CommandResult ourTransfer = await _a.ShAsync($"wg show {_tun} transfer", TimeSpan.FromSeconds(20));
        Assert.Matches(@"\t[1-9]\d*\t[1-9]\d*", ourTransfer.StdOut);

        // The crypto ran in libsodium shipped in the plugin's folder (NSec's native library, resolved by the plugin's
        // load context from its deps.json; the loader may map a shadow copy of it), not in a system copy.
        string maps = await File.ReadAllTextAsync($"/proc/{gateway.Pid}/maps");
        string? mapped = maps.Split('\n').Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && fields[5].Contains("libsodium", StringComparison.Ordinal))
            .Select(fields => fields[5]).FirstOrDefault();
        Assert.True(mapped is not null, "libsodium is not mapped in the gateway process");
        string shipped = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "plugins", "wireguard", "runtimes", "linux-x64", "native", "libsodium.so");
        Assert.Equal(
            Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(shipped))),
            Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(mapped))));

        CommandResult theirs = await wg.WgAsync($"show {wg.InterfaceName} latest-handshakes");
        Assert.Contains(_publicKey, theirs.StdOut);
        Assert.DoesNotMatch(@"\t0\s*$", theirs.StdOut.Trim());
        CommandResult theirTransfer = await wg.WgAsync($"show {wg.InterfaceName} transfer");
        Assert.Matches(@"\t[1-9]\d*\t[1-9]\d*", theirTransfer.StdOut);

        // The admin API's peers route (issue 17) says what `wg show` says; 401 without the token; `gateway peers` prints it.
        string peersUrl = $"http://127.0.0.1:{_adminPort}/api/v1/plugins/wireguard/peers";
        Assert.Equal("401", (await _a.ShAsync($"curl -s -o /dev/null -w '%{{http_code}}' {peersUrl}", TimeSpan.FromSeconds(30))).StdOut);
        CommandResult api = await _a.ShAsync($"curl -sS -H 'Authorization: Bearer {AdminTokenValue}' {peersUrl}", TimeSpan.FromSeconds(30));
        Assert.True(api.ExitCode == 0, api.Output);
        using (System.Text.Json.JsonDocument document = System.Text.Json.JsonDocument.Parse(api.StdOut))
        {
            Assert.Equal(_publicKey, document.RootElement.GetProperty("publicKey").GetString());
            Assert.Equal(_gatewayPort, document.RootElement.GetProperty("listenPort").GetInt32());
            System.Text.Json.JsonElement peer = Assert.Single(document.RootElement.GetProperty("peers").EnumerateArray());
            Assert.Equal(wg.PublicKey, peer.GetProperty("publicKey").GetString());
            Assert.Equal($"192.168.241.2:{_peerPort}", peer.GetProperty("endpoint").GetString());
            Assert.Equal(["10.99.0.2/32", "fd99::2/128"], peer.GetProperty("allowedIps").EnumerateArray().Select(e => e.GetString()!).Order().ToArray());
            Assert.InRange(peer.GetProperty("lastHandshakeSecondsAgo").GetInt64(), 0, 120);
            Assert.True(peer.GetProperty("rxBytes").GetInt64() > 0);
            Assert.True(peer.GetProperty("txBytes").GetInt64() > 0);
        }

        string exe = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "gateway");
        CommandResult cli = await _a.ShAsync($"{exe} peers --admin 127.0.0.1:{_adminPort} --token {AdminTokenValue}", TimeSpan.FromSeconds(60));
        Assert.True(cli.ExitCode == 0, cli.Output);
        Assert.Contains($"peer {wg.PublicKey}", cli.StdOut);
        Assert.Contains($"endpoint 192.168.241.2:{_peerPort}", cli.StdOut);
        Assert.DoesNotContain("latest handshake never", cli.StdOut);
    }

    [Fact]
    public async Task Tunnel_TcpTransfer100MiBEachWay_ArrivesByteForByte()
    {
        await using WireGuardGoPeer wg = await StartPeerAsync();
        await using GatewayProcess gateway = await StartGatewayAsync(wg.PublicKey);
        await AssertPingAsync(_b, "10.99.0.1");

        string dir = Directory.CreateTempSubdirectory("gwt-wg-tcp-").FullName;
        try
        {
            string file = Path.Combine(dir, "payload");
            await ProcessRunner.ShCheckedAsync($"head -c {100 * 1024 * 1024} /dev/urandom > {file}", TimeSpan.FromSeconds(60));
            string expected = (await ProcessRunner.ShCheckedAsync($"sha256sum < {file}")).Split(' ')[0];

            // Peer → gateway side (the gateway decrypts the bulk), then gateway side → peer (it encrypts the bulk).
            Assert.Equal(expected, await TransferAsync(receiver: _a, sender: _b, "10.99.0.1", file, dir, "ab"));
            Assert.Equal(expected, await TransferAsync(receiver: _b, sender: _a, "10.99.0.2", file, dir, "ba"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task InitiationFlood_FromUnknownKey_CookieRepliesAndTunnelStillComesUp()
    {
        await using WireGuardGoPeer wg = await StartPeerAsync();
        await using GatewayProcess gateway = await StartGatewayAsync(wg.PublicKey);

        byte[] gatewayKey = Convert.FromBase64String(_publicKey);
        using Socket flooder = await NetnsThread.RunAsync(_b.Name, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Any, 0));
            return s;
        });
        var target = new IPEndPoint(IPAddress.Parse("192.168.241.1"), _gatewayPort);
        int cookieReplies = 0;
        using var stop = new CancellationTokenSource();
        Task receiving = Task.Run(() =>
        {
            byte[] buffer = new byte[256];
            flooder.ReceiveTimeout = 500;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    int n = flooder.Receive(buffer);
                    if (n == MessageFormat.CookieReplySize && BinaryPrimitives.ReadUInt32LittleEndian(buffer) == MessageFormat.TypeCookieReply)
                    {
                        Interlocked.Increment(ref cookieReplies);
                    }
                }
                catch (SocketException)
                {
                    // Timeout: look at the stop flag again.
                }
            }
        });

        // About a thousand initiations per second from a key the gateway does not know, each with a valid mac1 (it
        // needs only the gateway's public key), built with our own Noise code. They are built first and then sent, so
        // the rate (well over the 128/s that puts the gateway under load) does not depend on this process getting
        // CPU time to build them on a loaded machine.
        var stranger = new LocalIdentity(Curve25519.GeneratePrivateKey());
        var macs = new CookieGenerator(gatewayKey, TimeProvider.System, TimeSpan.FromMinutes(2));
        var initiations = new byte[100][];
        for (int i = 0; i < initiations.Length; i++)
        {
            initiations[i] = new byte[MessageFormat.InitiationSize];
            var hs = new Handshake(stranger, gatewayKey, null);
            Assert.True(NoiseProtocol.CreateInitiation(stranger, hs, (uint)(i + 1), DateTimeOffset.UtcNow, initiations[i]));
            macs.AddMacs(initiations[i]);
        }

        Task flooding = Task.Run(async () =>
        {
            int next = 0;
            while (!stop.IsCancellationRequested)
            {
                for (int i = 0; i < 50; i++)
                {
                    flooder.SendTo(initiations[next++ % initiations.Length], target);
                }

                await Task.Delay(50);
            }
        });

        try
        {
            // While the flood runs, wireguard-go's own handshake gets a cookie reply, retries with mac2 and gets in.
            await Task.Delay(TimeSpan.FromSeconds(2));
            CommandResult ping = await _b.ShAsync("ping -c 1 -w 60 10.99.0.1", TimeSpan.FromSeconds(90));
            Assert.True(ping.ExitCode == 0, ping.Output + gateway.Output);
            Assert.True(Volatile.Read(ref cookieReplies) > 0, "no cookie reply to the flood");
        }
        finally
        {
            stop.Cancel();
            await flooding;
            await receiving;
        }

        await AssertPingAsync(_b, "10.99.0.1");
    }

    private async Task<string> TransferAsync(NetworkNamespace receiver, NetworkNamespace sender, string address, string file, string dir, string tag)
    {
        int port = NetworkNamespace.RandomPort();
        string result = Path.Combine(dir, "received-" + tag);
        string script = Path.Combine(dir, "recv-" + tag + ".py");
        await File.WriteAllTextAsync(script,
            "import hashlib, socket, sys\n" +
            "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n" +
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n" +
            $"s.bind(('{address}', {port})); s.listen(1); s.settimeout(120)\n" +
            "c, _ = s.accept(); c.settimeout(120); h = hashlib.sha256(); n = 0\n" +
            "while True:\n" +
            "    b = c.recv(1 << 20)\n" +
            "    if not b: break\n" +
            "    h.update(b); n += len(b)\n" +
            $"open('{result}', 'w').write(h.hexdigest())\n" +
            "print(n)\n");
        BackgroundProcess server = receiver.Start("python3", [script], name: "tcp-receiver-" + tag);
        await using (server)
        {
            await Task.Delay(1000);
            string send =
                "import socket, time\n" +
                "for i in range(50):\n" +
                "    try:\n" +
                $"        c = socket.create_connection(('{address}', {port}), timeout=120); break\n" +
                "    except OSError: time.sleep(0.2)\n" +
                $"f = open('{file}', 'rb'); c.sendfile(f); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()\n";
            string sendScript = Path.Combine(dir, "send-" + tag + ".py");
            await File.WriteAllTextAsync(sendScript, send);
            CommandResult sent = await sender.ShAsync($"python3 {sendScript}", Long);
            Assert.True(sent.ExitCode == 0, sent.Output);
            for (int i = 0; i < 600 && !File.Exists(result); i++)
            {
                await Task.Delay(100);
            }

            Assert.True(File.Exists(result), "receiver wrote no digest: " + server.Output);
            return (await File.ReadAllTextAsync(result)).Trim();
        }
    }

    private static async Task AssertPingAsync(NetworkNamespace ns, string address)
    {
        string family = address.Contains(':') ? "-6 " : "";
        CommandResult ping = await ns.ShAsync($"ping {family}-c 3 -i 0.3 -w 30 {address}", TimeSpan.FromSeconds(45));
        Assert.True(ping.ExitCode == 0, $"ping {address} from {ns.Name}: {ping.Output}");
    }

    private Task<WireGuardGoPeer> StartPeerAsync() =>
        WireGuardGoPeer.StartAsync(_b, _peerPort, _publicKey, _psk, $"192.168.241.1:{_gatewayPort}");

    private Task<GatewayProcess> StartGatewayAsync(string peerPublicKey)
    {
        string yaml =
            "host:\n" +
            $"  admin: {{ listen: \"127.0.0.1:{_adminPort}\", tokenFile: \"{_tokenFile}\" }}\n" +
            $"  tun: {{ enabled: true, name: \"{_tun}\", addresses: [\"10.99.0.1/24\", \"fd99::1/64\"], mtu: 1420 }}\n" +
            "wireguard:\n" +
            $"  privateKey: \"{_privateKey}\"\n" +
            $"  listenPort: {_gatewayPort}\n" +
            "  peers:\n" +
            $"    - {{ publicKey: \"{peerPublicKey}\", presharedKey: \"{_psk}\", endpoint: \"192.168.241.2:{_peerPort}\", allowedIps: [\"10.99.0.2/32\", \"fd99::2/128\"] }}\n";
        return GatewayProcess.StartAsync(yaml, _a);
    }
}
