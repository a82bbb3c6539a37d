using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// Debian's wireguard-go + wg as the reference peer inside a namespace the test made: a TUN interface with
/// 10.99.0.2/24 and fd99::2/64 (by default), configured through its UAPI socket with `wg set`.
/// </summary>
public sealed class WireGuardGoPeer : IAsyncDisposable
{
    private readonly BackgroundProcess _process;
    private readonly string _dir;

    private WireGuardGoPeer(NetworkNamespace ns, string name, BackgroundProcess process, string dir, string privateKey, string publicKey)
    {
        Namespace = ns;
        InterfaceName = name;
        _process = process;
        _dir = dir;
        PrivateKey = privateKey;
        PublicKey = publicKey;
    }

    /// <summary>The namespace wireguard-go runs in.</summary>
    public NetworkNamespace Namespace { get; }

    /// <summary>Its interface (and UAPI socket) name.</summary>
    public string InterfaceName { get; }

    /// <summary>Its private key (base64).</summary>
    public string PrivateKey { get; }

    /// <summary>Its public key (base64).</summary>
    public string PublicKey { get; }

    /// <summary>Starts wireguard-go in <paramref name="ns"/> and configures it (listen port, our key, endpoint, AllowedIPs).</summary>
    public static async Task<WireGuardGoPeer> StartAsync(NetworkNamespace ns, int listenPort, string peerPublicKey, string presharedKey, string peerEndpoint,
        string peerAllowedIps = "10.99.0.1/32,fd99::1/128", string address4 = "10.99.0.2/24", string address6 = "fd99::2/64")
    {
        string name = $"gwtwg{Random.Shared.Next(10000, 99999)}";
        string dir = Directory.CreateTempSubdirectory("gwt-wg-").FullName;
        string privateKey = (await ProcessRunner.ShCheckedAsync("wg genkey")).Trim();
        string publicKey = (await ProcessRunner.RunAsync("wg", ["pubkey"], stdin: privateKey + "\n")).StdOut.Trim();
        await File.WriteAllTextAsync(Path.Combine(dir, "key"), privateKey + "\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "psk"), presharedKey + "\n");
        BackgroundProcess process = ns.Start("wireguard-go", ["-f", name], new Dictionary<string, string> { ["WG_PROCESS_FOREGROUND"] = "1", ["LOG_LEVEL"] = "error" }, "wireguard-go");
        var peer = new WireGuardGoPeer(ns, name, process, dir, privateKey, publicKey);
        string socket = $"/var/run/wireguard/{name}.sock";
        for (int i = 0; i < 100 && !File.Exists(socket); i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"wireguard-go exited: {process.Output}");
            }

            await Task.Delay(100);
        }

        await ns.ShCheckedAsync(
            $"wg set {name} listen-port {listenPort} private-key {dir}/key peer {peerPublicKey} preshared-key {dir}/psk endpoint {peerEndpoint} allowed-ips {peerAllowedIps} && " +
            $"ip addr add {address4} dev {name} && ip addr add {address6} dev {name} nodad && ip link set dev {name} mtu 1420 up");
        return peer;
    }

    /// <summary>Runs `wg` with <paramref name="arguments"/> against this interface.</summary>
    public Task<CommandResult> WgAsync(string arguments) => Namespace.ShAsync($"wg {arguments}", TimeSpan.FromSeconds(20));

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _process.StopAsync(TimeSpan.FromSeconds(5));
        await _process.DisposeAsync();
        try
        {
            File.Delete($"/var/run/wireguard/{InterfaceName}.sock");
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // Already gone.
        }
    }
}
