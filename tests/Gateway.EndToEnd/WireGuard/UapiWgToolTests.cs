using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.UAPI;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>The real `wg` from wireguard-tools against our UAPI socket in /var/run/wireguard.</summary>
public sealed class UapiWgToolTests
{
    [Fact]
    public async Task WgShowAndSet_AgainstOurSocket_PeersAddedAndRemovedAtRunTime()
    {
        string name = $"gwt{Random.Shared.Next(10000, 99999)}";
        var device = new WireGuardDevice(Curve25519.GeneratePrivateKey(), new TestTunnelEndpoint(), NullLogger.Instance) { ListenPort = 51820 };
        string path;
        await using (var server = new UapiServer(device, name, NullLogger.Instance))
        {
            Assert.True(server.Start());
            path = server.SocketPath;
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path));

            string peer = (await ProcessRunner.ShCheckedAsync("wg genkey | wg pubkey")).Trim();
            await ProcessRunner.ShCheckedAsync($"wg set {name} peer {peer} allowed-ips 10.5.0.0/24,fd05::/64 endpoint 192.0.2.1:51820 persistent-keepalive 25");
            Peer added = Assert.Single(device.Peers);
            Assert.Equal(peer, added.PublicKeyBase64);
            Assert.Equal(25, added.PersistentKeepaliveSeconds);
            Assert.Same(added, device.AllowedIps.Lookup(NetAddress.Parse("10.5.0.77")));

            string show = await ProcessRunner.ShCheckedAsync($"wg show {name}");
            Assert.Contains($"interface: {name}", show);
            Assert.Contains($"public key: {Convert.ToBase64String(device.Identity.PublicKey)}", show);
            Assert.Contains("listening port: 51820", show);
            Assert.Contains($"peer: {peer}", show);
            Assert.Contains("endpoint: 192.0.2.1:51820", show);
            Assert.Contains("allowed ips: 10.5.0.0/24, fd05::/64", show);
            Assert.Contains(name, await ProcessRunner.ShCheckedAsync("wg show interfaces"));

            await ProcessRunner.ShCheckedAsync($"wg set {name} peer {peer} remove");
            Assert.Empty(device.Peers);
            Assert.Null(device.AllowedIps.Lookup(NetAddress.Parse("10.5.0.77")));

            CommandResult bad = await ProcessRunner.ShAsync($"wg set {name} peer {peer} allowed-ips 10.5.0.0/24 && wg set {name} listen-port 5");
            Assert.NotEqual(0, bad.ExitCode);
        }

        Assert.False(File.Exists(path));
    }
}
