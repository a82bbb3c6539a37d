using System.Globalization;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// The published gateway with the TUN on, inside a namespace the test creates (issue 3 "Done means"): ping, UDP
/// and TCP to the sample echo plugin's virtual endpoints, a 100 MiB transfer, 1,000 short connections, closed
/// ports, and malformed packets counted on /metrics while the gateway keeps serving. One gateway for the class.
/// </summary>
public sealed class GatewayTunTests : IClassFixture<GatewayTunFixture>
{
    private const string V4 = GatewayTunFixture.VirtualV4;
    private const string V6 = GatewayTunFixture.VirtualV6;
    private const int Port = GatewayTunFixture.EchoPort;

    private readonly GatewayTunFixture _fixture;

    public GatewayTunTests(GatewayTunFixture fixture) => _fixture = fixture;

    private NetworkNamespace Ns => _fixture.Namespace;

    [Fact]
    public async Task Ping_VirtualIpV4AndV6_Answered()
    {
        Assert.Contains("3 received", await Ns.ShCheckedAsync($"ping -c 3 -i 0.2 -W 5 {V4}"));
        Assert.Contains("3 received", await Ns.ShCheckedAsync($"ping -6 -c 3 -i 0.2 -W 5 {V6}"));
    }

    [Theory]
    [InlineData("AF_INET", V4)]
    [InlineData("AF_INET6", V6)]
    public async Task UdpAndTcp_EchoPluginVirtualEndpoint_Answered(string family, string address)
    {
        string output = await NamespacePython.RunCheckedAsync(Ns, $$"""
            import socket
            u = socket.socket(socket.{{family}}, socket.SOCK_DGRAM)
            u.settimeout(5)
            for i in range(10):
                msg = b"datagram %d" % i
                u.sendto(msg, ("{{address}}", {{Port}}))
                data, peer = u.recvfrom(4096)
                assert data == b"echo: " + msg, data
                assert peer[0] == "{{address}}" and peer[1] == {{Port}}, peer
            t = socket.create_connection(("{{address}}", {{Port}}), timeout=10)
            t.sendall(b"over tcp\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = t.recv(100)
                assert chunk, data
                data += chunk
            t.close()
            print(data.decode().strip())
            """);
        Assert.Equal("echo: over tcp", output.Trim());
    }

    [Fact]
    public async Task Tcp_Transfer100MiB_EchoedByteForByte()
    {
        // The echo plugin answers line by line ("echo: " + line): 1,600 lines of 64 KiB of base64 (> 100 MiB) go
        // up while the answers come down; both directions are hashed and compared with what must come back.
        long coalescedBefore = await _fixture.CounterFromMetricsAsync("gateway_tun_coalesced_segments_total");
        string output = await NamespacePython.RunCheckedAsync(Ns, $$"""
            import socket, hashlib, threading, os, base64
            lines = 1600
            s = socket.create_connection(("{{V4}}", {{Port}}), timeout=60)
            expected = hashlib.sha256()
            sent = [0]
            def sender():
                for i in range(lines):
                    line = base64.b64encode(os.urandom(49152)) + b"\n"
                    expected.update(b"echo: " + line)
                    s.sendall(line)
                    sent[0] += len(line)
                s.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=sender)
            t.start()
            got = hashlib.sha256()
            received = 0
            while True:
                data = s.recv(1 << 16)
                if not data:
                    break
                got.update(data)
                received += len(data)
            t.join()
            assert sent[0] >= 100 * 1024 * 1024, sent[0]
            assert received == sent[0] + 6 * lines, (received, sent[0])
            assert got.hexdigest() == expected.hexdigest()
            print(sent[0])
            """, TimeSpan.FromMinutes(3));
        Assert.True(long.Parse(output.Trim(), CultureInfo.InvariantCulture) >= 100L * 1024 * 1024);

        // The upload's segments, NAT'ed towards the kernel listener, leave the read loop merged into GSO frames.
        Assert.True(await _fixture.CounterFromMetricsAsync("gateway_tun_coalesced_segments_total") > coalescedBefore);
    }

    [Fact]
    public async Task Tcp_1000ShortConnections_AllSucceed()
    {
        string output = await NamespacePython.RunCheckedAsync(Ns, $$"""
            import socket
            ok = 0
            for i in range(1000):
                s = socket.create_connection(("{{V4}}", {{Port}}), timeout=10)
                s.sendall(b"conn %d\n" % i)
                s.shutdown(socket.SHUT_WR)
                data = b""
                while True:
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
                assert data == b"echo: conn %d\n" % i, (i, data)
                s.close()
                ok += 1
            print(ok)
            """, TimeSpan.FromMinutes(3));
        Assert.Equal("1000", output.Trim());
    }

    [Theory]
    [InlineData("AF_INET", V4)]
    [InlineData("AF_INET6", V6)]
    public async Task ClosedPorts_UdpPortUnreachableAndTcpReset_Refused(string family, string address)
    {
        string output = await NamespacePython.RunCheckedAsync(Ns, NamespacePython.ClosedPortsProbe(family, address));
        Assert.Equal("udp: refused\ntcp: refused", output.Trim());
    }

    [Fact]
    public async Task SynFlood_OneSourcePastNatCap_HeldToItsCapAndAnotherSourceStillConnects()
    {
        // 10,000 SYNs from 10.30.30.66 that never complete their handshake (its SYN-ACKs go nowhere), written into the
        // TUN: the default host.tun.natMaxPerSource (4096) holds it to 4096 NAT sessions, recycling its own oldest.
        long evictedBefore = await RecycledAsync();
        long sessionsBefore = await _fixture.CounterFromMetricsAsync("gateway_tun_nat_sessions");
        string flood = await NamespacePython.RunCheckedAsync(Ns, $$"""
            import socket, struct, errno, time
            def csum(b):
                if len(b) % 2: b += b"\0"
                s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
                while s >> 16: s = (s & 0xffff) + (s >> 16)
                return (~s) & 0xffff
            src, dst = socket.inet_aton("10.30.30.66"), socket.inet_aton("{{V4}}")
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
            s.bind(("gw0", socket.htons(0x0800)))
            def tx_dropped():
                with open("/sys/class/net/gw0/statistics/tx_dropped") as f:
                    return int(f.read())
            dropped = tx_dropped()
            sent = 0
            for i in range(10000):
                tcp = struct.pack("!HHIIBBHHH", 1024 + i, {{Port}}, 1000 * i, 0, 0x50, 0x02, 65535, 0, 0)
                tcp = tcp[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
                ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0x4000, 64, 6, 0, src, dst)
                ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
                while True:
                    try:
                        s.send(ip + tcp)
                        sent += 1
                        break
                    except OSError as e:
                        if e.errno != errno.ENOBUFS:
                            raise
                        time.sleep(0.01)
                if sent % 25 == 0:
                    time.sleep(0.005)   # the TUN's transmit ring (500) drops silently when the gateway lags
            print(sent - (tx_dropped() - dropped))
            """, TimeSpan.FromMinutes(3));

        // What reached the gateway: written, less what the TUN's ring dropped on a loaded machine.
        int reached = int.Parse(flood.Trim(), CultureInfo.InvariantCulture);
        Assert.True(reached >= 8000, $"only {reached} of 10,000 SYNs reached the gateway");

        long evicted = evictedBefore;
        for (long deadline = Environment.TickCount64 + 30_000; Environment.TickCount64 < deadline && evicted - evictedBefore < reached - 4096;)
        {
            await Task.Delay(250);
            evicted = await RecycledAsync();
        }

        // Recycled at the cap, or (on a slow machine, when writing the flood took longer than 30 s) expired half-open.
        Assert.True(evicted - evictedBefore >= reached - 4096, $"{evicted - evictedBefore} half-open sessions of the flooder recycled, {reached} SYNs");
        long sessions = await _fixture.CounterFromMetricsAsync("gateway_tun_nat_sessions");
        Assert.True(sessions - sessionsBefore <= 4096 + 100, $"{sessions} NAT sessions after the flood, {sessionsBefore} before: the flooder was not held to its cap");

        // Another source (this host's applications, 10.30.30.1) connects and is served as usual.
        string echo = await NamespacePython.RunCheckedAsync(Ns, $$"""
            import socket
            for i in range(20):
                t = socket.create_connection(("{{V4}}", {{Port}}), timeout=10)
                t.sendall(b"after flood %d\n" % i)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = t.recv(100)
                    assert chunk, data
                    data += chunk
                t.close()
            print(data.decode().strip())
            """);
        Assert.Equal("echo: after flood 19", echo.Trim());
        Assert.False(_fixture.Gateway.HasExited);

        async Task<long> RecycledAsync() =>
            await _fixture.CounterFromMetricsAsync("gateway_tun_nat_evicted_total", "source_limit") +
            await _fixture.CounterFromMetricsAsync("gateway_tun_nat_evicted_total", "half_open_timeout");
    }

    [Fact]
    public async Task MalformedPackets_WrittenIntoTun_CountedOnMetricsAndStillServing()
    {
        long before = await _fixture.DroppedFromMetricsAsync();

        string output = await NamespacePython.RunCheckedAsync(Ns, MalformedPackets.Script("gw0", "10.30.30.1", V4, Port, "fd30::1", V6));
        int sent = int.Parse(output.Trim(), CultureInfo.InvariantCulture);
        Assert.Equal(MalformedPackets.Count(withV6: true), sent);

        long dropped = before;
        for (long deadline = Environment.TickCount64 + 30_000; Environment.TickCount64 < deadline && dropped - before < sent;)
        {
            await Task.Delay(250);
            dropped = await _fixture.DroppedFromMetricsAsync();
        }

        Assert.True(dropped - before >= sent, $"{sent} malformed packets written, {dropped - before} counted as dropped on /metrics");
        Assert.True(await _fixture.DroppedFromMetricsAsync("bad_checksum") >= 1000);
        Assert.True(await _fixture.DroppedFromMetricsAsync("fragment") >= 1000);
        Assert.False(_fixture.Gateway.HasExited);

        string echo = await NamespacePython.RunCheckedAsync(Ns, $$"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.sendto(b"still here", ("{{V4}}", {{Port}}))
            print(s.recvfrom(100)[0].decode())
            """);
        Assert.Equal("echo: still here", echo.Trim());
        await Ns.ShCheckedAsync($"ping -c 1 -W 5 {V4}");
    }
}
