using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// A user who only writes <c>tun: { enabled: true }</c>: the default addresses give working IPv4 and IPv6 virtual
/// IPs (also an IPv6 virtual IP outside every TUN prefix), and on a host with IPv6 disabled the TUN still comes
/// up with IPv4 and a warning.
/// </summary>
public sealed class GatewayTunDefaultsTests
{
    [Fact]
    public async Task DefaultAddresses_V4V6AndV6OutsidePrefix_PingUdpTcpAnswered()
    {
        await using NetworkNamespace ns = await NetworkNamespace.CreateAsync("gwtdef");
        await using GatewayProcess gateway = await StartAsync(ns, "[\"10.30.30.30:7\", \"[fd00:30::30]:7\", \"[fd77::7]:7\"]");

        string addresses = await ns.ShCheckedAsync("ip -o addr show dev gw0");
        Assert.Contains("10.30.30.1/24", addresses);
        Assert.Contains("fd00:30::1/64", addresses);
        foreach (string address in new[] { "10.30.30.30", "fd00:30::30", "fd77::7" })
        {
            Assert.Contains("1 received", await ns.ShCheckedAsync($"ping -c 1 -W 5 {address}"));
            Assert.Equal("echo: udp\necho: tcp", (await EchoAsync(ns, address)).Trim());
        }
    }

    [Fact]
    public async Task Ipv6DisabledOnHost_DefaultAddresses_TunUpWithIpv4AndWarning()
    {
        await using NetworkNamespace ns = await NetworkNamespace.CreateAsync("gwtno6");
        // /proc/sys/net is per namespace: this disables IPv6 only inside the test's namespace (no procps needed).
        await ns.ShCheckedAsync("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6");
        await using GatewayProcess gateway = await StartAsync(ns, "[\"10.30.30.30:7\", \"[fd00:30::30]:7\"]");

        Assert.Contains("could not be added", gateway.Output);
        Assert.Contains("IPv4 only", gateway.Output);
        Assert.Contains("1 received", await ns.ShCheckedAsync("ping -c 1 -W 5 10.30.30.30"));
        Assert.Equal("echo: udp\necho: tcp", (await EchoAsync(ns, "10.30.30.30")).Trim());
        Assert.Equal(0, await gateway.StopAsync());
    }

    [Fact]
    public async Task IdleTimeout_SilentVirtualTcpConnection_ClosedLikeHostSockets()
    {
        await using NetworkNamespace ns = await NetworkNamespace.CreateAsync("gwtidle");
        await using GatewayProcess gateway = await StartAsync(ns, "[\"10.30.30.30:7\"]", "  limits: { idleTimeoutSeconds: 2 }\n");

        // host.limits.idleTimeoutSeconds applies to virtual TCP connections as to host sockets: after the answer,
        // a silent client is disconnected by the gateway (EOF or reset) well before the script's 30 s limit.
        string output = await NamespacePython.RunCheckedAsync(ns, """
            import socket, time
            t = socket.create_connection(("10.30.30.30", 7), timeout=30)
            t.sendall(b"hi\n")
            data = b""
            while not data.endswith(b"\n"):
                data += t.recv(100)
            start = time.monotonic()
            try:
                rest = t.recv(100)
            except ConnectionResetError:
                rest = b""
            print(data.decode().strip(), rest == b"", time.monotonic() - start < 25)
            """);
        Assert.Equal("echo: hi True True", output.Trim());
    }

    private static async Task<GatewayProcess> StartAsync(NetworkNamespace ns, string virtualEndpoints, string hostExtra = "")
    {
        string plugins = Path.Combine(Path.GetTempPath(), "gateway-e2e", "tun-plugins-" + Guid.NewGuid().ToString("N")[..12]);
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), Path.Combine(plugins, "echo"));
        return await GatewayProcess.StartAsync(
            $$"""
            host:
              plugins: ["{{plugins}}"]
              tun: { enabled: true }
            {{hostExtra}}echo:
              virtual: {{virtualEndpoints}}
            """,
            netns: ns);
    }

    private static Task<string> EchoAsync(NetworkNamespace ns, string address) => NamespacePython.RunCheckedAsync(ns, $$"""
        import socket
        family = socket.AF_INET6 if ":" in "{{address}}" else socket.AF_INET
        u = socket.socket(family, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.sendto(b"udp", ("{{address}}", 7))
        print(u.recvfrom(100)[0].decode())
        t = socket.create_connection(("{{address}}", 7), timeout=10)
        t.sendall(b"tcp\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = t.recv(100)
            assert chunk, data
            data += chunk
        print(data.decode().strip())
        """);
}
