using Gateway.EndToEnd.Infrastructure;
using Gateway.Host.Dispatch;
using Gateway.Host.Tun;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// The TUN device, dispatcher and virtual endpoints end to end, in a namespace the test creates, with real
/// clients (ping, python3 sockets) against the in-process TUN side (DESIGN §2, §9; issue 3). The device uses
/// IFF_VNET_HDR offloads here; <see cref="TunWithoutOffloadsEndToEndTests"/> runs the same tests on a plain TUN and
/// <see cref="TunHeaderOnlyEndToEndTests"/> with the virtio header but no offloads granted.
/// </summary>
public class TunEndToEndTests : IAsyncLifetime
{
    private TunHarness _harness = null!;

    /// <summary>What the device is opened with.</summary>
    private protected virtual TunOffloads Offloads => TunOffloads.Full;

    public async Task InitializeAsync() => _harness = await TunHarness.StartAsync("tun", Offloads);

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public void Device_OpenedWithWhatWasAskedFor()
    {
        var device = Assert.IsType<LinuxTunDevice>(_harness.Network.Device);
        Assert.Equal(Offloads != TunOffloads.None, device.VnetHeader);
        if (Offloads == TunOffloads.Full)
        {
            Assert.NotEqual(0u, device.Offloads);
        }
        else
        {
            Assert.Equal(0u, device.Offloads);
        }
    }

    [Fact]
    public async Task Ping_VirtualIpV4AndV6_Answered()
    {
        string v4 = await _harness.Namespace.ShCheckedAsync($"ping -c 3 -i 0.2 -W 5 {TunHarness.VirtualV4}");
        Assert.Contains("3 received", v4);
        string v6 = await _harness.Namespace.ShCheckedAsync($"ping -6 -c 3 -i 0.2 -W 5 {TunHarness.VirtualV6}");
        Assert.Contains("3 received", v6);
    }

    [Fact]
    public async Task Start_ConfiguresLinkRoutesAndFwmarkRule_DisposeRemovesThem()
    {
        string link = await _harness.Namespace.ShCheckedAsync("ip -o link show gw0");
        Assert.Contains("mtu 1420", link);
        Assert.Contains("qlen 5000", link);   // RtNetlink.TxQueueLength: bursts wait instead of being dropped
        Assert.Contains("UP", link);
        string addresses = await _harness.Namespace.ShCheckedAsync("ip -o addr show dev gw0");
        Assert.Contains("10.30.30.1/24", addresses);
        Assert.Contains("fd30::1/64", addresses);
        string rules = await _harness.Namespace.ShCheckedAsync("ip rule show; ip -6 rule show");
        Assert.Equal(2, rules.Split('\n').Count(l => l.Contains("not from all fwmark 0x4757 lookup 18263", StringComparison.Ordinal)));
        string routes = await _harness.Namespace.ShCheckedAsync("ip route show table 18263; ip -6 route show table 18263");
        Assert.Contains("10.30.30.30 dev gw0", routes);
        Assert.Contains("fd30::30 dev gw0", routes);

        // A protected (SO_MARK) socket's traffic skips the gateway's routes: with only our table holding a
        // route to 10.77.0.0/16, the marked lookup finds none (ip route get honours the mark like a socket).
        using (_harness.Network.AddRoute(new Gateway.Host.Networking.PluginHandlerGuard("t", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, new System.Diagnostics.Metrics.Meter("t")), Gateway.Sdk.Networking.IpPrefix.Parse("10.77.0.0/16"), new NullRoute()))
        {
            Assert.Contains("dev gw0", await _harness.Namespace.ShCheckedAsync("ip route get 10.77.1.1"));
            CommandResult marked = await _harness.Namespace.ShAsync("ip route get 10.77.1.1 mark 0x4757");
            Assert.DoesNotContain("dev gw0", marked.Output);
        }

        await _harness.Network.DisposeAsync();
        string after = await _harness.Namespace.ShCheckedAsync("ip rule show; ip -6 rule show; ip route show table 18263; ip link show");
        Assert.DoesNotContain("fwmark 0x4757", after);
        Assert.DoesNotContain("gw0", after);
    }

    [Theory]
    [InlineData("AF_INET", TunHarness.VirtualV4)]
    [InlineData("AF_INET6", TunHarness.VirtualV6)]
    public async Task Udp_EchoOnVirtualEndpoint_AnswersSameBytes(string family, string address)
    {
        string output = await _harness.PythonCheckedAsync($$"""
            import socket
            s = socket.socket(socket.{{family}}, socket.SOCK_DGRAM)
            s.settimeout(5)
            for i in range(20):
                msg = b"hello %d " % i + bytes(range(256)) * 4
                s.sendto(msg, ("{{address}}", {{TunHarness.EchoPort}}))
                data, peer = s.recvfrom(4096)
                assert data == msg, (len(data), len(msg))
                assert peer[0] == "{{address}}" and peer[1] == {{TunHarness.EchoPort}}, peer
            print("ok")
            """);
        Assert.Equal("ok", output.Trim());
    }

    [Theory]
    [InlineData("AF_INET", TunHarness.VirtualV4)]
    [InlineData("AF_INET6", TunHarness.VirtualV6)]
    public async Task Udp_BurstOnVirtualEndpoint_EveryDatagramEchoedWhole(string family, string address)
    {
        // Sent without waiting, so a TUN read carries many and their echoes leave in one flush: with USO they are
        // written as UDP_L4 super-packets (equal sizes, a shorter one ends a train), which the kernel must split
        // back into exactly these datagrams.
        var device = Assert.IsType<LinuxTunDevice>(_harness.Network.Device);
        long coalescedBefore = device.CoalescedSegments;
        string output = await _harness.PythonCheckedAsync($$"""
            import socket
            s = socket.socket(socket.{{family}}, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, 33, 1 << 23)  # SO_RCVBUFFORCE: hold every echo
            s.settimeout(10)
            sent = []
            for i in range(400):
                size = 300 if i % 37 == 36 else 1200
                msg = (b"%05d" % i) * (size // 5)
                sent.append(msg)
                s.sendto(msg, ("{{address}}", {{TunHarness.EchoPort}}))
            received = [s.recvfrom(2048)[0] for _ in sent]
            assert sorted(received) == sorted(sent), "datagrams differ"
            print("ok")
            """, TimeSpan.FromSeconds(60));
        Assert.Equal("ok", output.Trim());
        if (device.Offloads != 0)
        {
            Assert.True(device.CoalescedSegments > coalescedBefore, "no echo was coalesced");
        }
    }

    [Theory]
    [InlineData("AF_INET", TunHarness.VirtualV4, "10.30.30.1")]
    [InlineData("AF_INET6", TunHarness.VirtualV6, "fd30::1")]
    public async Task Tcp_EchoOnVirtualEndpoint_HandlerSeesOriginalClient(string family, string address, string clientAddress)
    {
        string output = await _harness.PythonCheckedAsync($$"""
            import socket
            s = socket.socket(socket.{{family}}, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(("{{address}}", {{TunHarness.EchoPort}}))
            print(s.getsockname()[1])
            s.sendall(b"hello tcp\n")
            data = b""
            while len(data) < 10:
                chunk = s.recv(100)
                assert chunk
                data += chunk
            assert data == b"hello tcp\n", data
            s.shutdown(socket.SHUT_WR)
            assert s.recv(10) == b""
            s.close()
            """);
        int clientPort = int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        await WaitForAsync(() => !_harness.Echo.Connections.IsEmpty);
        Assert.True(_harness.Echo.Connections.TryDequeue(out var connection));
        Assert.Equal(clientAddress, connection.Client.Address.ToString());
        Assert.Equal(clientPort, connection.Client.Port);
        Assert.Equal($"{address}:{TunHarness.EchoPort}", connection.Local.Address + ":" + connection.Local.Port);
        Assert.Equal(10, connection.Bytes);
    }

    [Fact]
    public async Task Tcp_Transfer100MiB_Sha256MatchesBothEnds()
    {
        const long size = 100L * 1024 * 1024;
        string output = await _harness.PythonCheckedAsync($$"""
            import socket, hashlib, threading, os
            size = {{size}}
            s = socket.create_connection(("{{TunHarness.VirtualV4}}", {{TunHarness.EchoPort}}), timeout=60)
            sent_hash = hashlib.sha256()
            block = os.urandom(1 << 20)
            def sender():
                left = size
                i = 0
                while left > 0:
                    chunk = block[i % 7:] + block[:i % 7]
                    chunk = chunk[:min(len(chunk), left)]
                    sent_hash.update(chunk)
                    s.sendall(chunk)
                    left -= len(chunk)
                    i += 1
                s.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=sender)
            t.start()
            recv_hash = hashlib.sha256()
            got = 0
            while True:
                data = s.recv(1 << 16)
                if not data:
                    break
                recv_hash.update(data)
                got += len(data)
            t.join()
            assert got == size, got
            assert sent_hash.hexdigest() == recv_hash.hexdigest()
            print(sent_hash.hexdigest())
            """, TimeSpan.FromMinutes(5));
        string sentSha = output.Trim();
        await WaitForAsync(() => !_harness.Echo.Connections.IsEmpty);
        Assert.True(_harness.Echo.Connections.TryDequeue(out var connection));
        Assert.Equal(size, connection.Bytes);
        Assert.Equal(sentSha, connection.Sha256);
    }

    [Fact]
    public async Task Tcp_1000ShortConnections_AllSucceed()
    {
        string output = await _harness.PythonCheckedAsync($$"""
            import socket
            ok = 0
            for i in range(1000):
                s = socket.create_connection(("{{TunHarness.VirtualV4}}", {{TunHarness.EchoPort}}), timeout=10)
                msg = b"conn %d" % i
                s.sendall(msg)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
                assert data == msg, (i, data)
                s.close()
                ok += 1
            print(ok)
            """, TimeSpan.FromMinutes(5));
        Assert.Equal("1000", output.Trim());
    }

    [Theory]
    [InlineData("AF_INET", TunHarness.VirtualV4)]
    [InlineData("AF_INET6", TunHarness.VirtualV6)]
    public async Task ClosedPorts_UdpPortUnreachableAndTcpReset_ConnectionRefused(string family, string address)
    {
        string output = await _harness.PythonCheckedAsync(NamespacePython.ClosedPortsProbe(family, address));
        Assert.Equal("udp: refused\ntcp: refused", output.Trim());
    }

    [Fact]
    public async Task MalformedPackets_WrittenIntoTun_CountedAsDroppedAndStillServing()
    {
        Dispatcher dispatcher = _harness.Network.Dispatcher;
        long before = dispatcher.DroppedTotal;

        // AF_PACKET on gw0 puts the bytes on the TUN's transmit queue verbatim: the dispatcher reads exactly them.
        string output = await _harness.PythonCheckedAsync(MalformedPackets.Script("gw0", "10.30.30.1", TunHarness.VirtualV4, TunHarness.EchoPort, "fd30::1", TunHarness.VirtualV6));
        int sent = int.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(MalformedPackets.Count(withV6: true), sent);

        // Random bytes may happen to look like something else, but every one of these is dropped.
        await WaitForAsync(() => dispatcher.DroppedTotal - before >= sent, throwOnTimeout: false);
        Assert.True(dispatcher.DroppedTotal - before >= sent, $"{sent} malformed packets written, {dispatcher.DroppedTotal - before} counted as dropped");
        Assert.True(dispatcher.Dropped(DropReason.BadChecksum) >= 1000);
        Assert.True(dispatcher.Dropped(DropReason.Fragment) >= 1000);
        Assert.True(dispatcher.Dropped(DropReason.Truncated) >= 500);

        string echo = await _harness.PythonCheckedAsync($$"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.sendto(b"still here", ("{{TunHarness.VirtualV4}}", {{TunHarness.EchoPort}}))
            print(s.recvfrom(100)[0].decode())
            """);
        Assert.Equal("still here", echo.Trim());
        await _harness.Namespace.ShCheckedAsync($"ping -c 1 -W 5 {TunHarness.VirtualV4}");
    }

    private sealed class NullRoute : Gateway.Sdk.Routing.IPacketRoute
    {
        public string Name => "null";

        public void Send(ReadOnlySpan<byte> packet)
        {
        }

        public void Flush()
        {
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, bool throwOnTimeout = true)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.False(throwOnTimeout, "condition not met within 30 s");
                return;
            }

            await Task.Delay(50);
        }
    }
}
