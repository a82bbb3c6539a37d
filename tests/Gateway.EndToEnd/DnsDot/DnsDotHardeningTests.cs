using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// Issue 13's DNS holes, each attacked through the published gateway (<c>gateway run</c>) with a real unbound
/// upstream over DoT: a public client of the default ACL gets REFUSED, a flood from one network is held to its
/// rate while another network is served, a TCP client that never reads is closed with the gateway's memory flat,
/// and a query that would outgrow its 2-byte frame upstream gets FORMERR without disturbing the shared connection.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DnsDotHardeningTests : IClassFixture<UnboundDotFixture>
{
    private static readonly TimeSpan KdigTimeout = TimeSpan.FromSeconds(30);
    private readonly UnboundDot _unbound;
    private readonly ITestOutputHelper _output;

    public DnsDotHardeningTests(UnboundDotFixture fixture, ITestOutputHelper output)
    {
        _unbound = fixture.Unbound;
        _output = output;
    }

    private string Upstream => $"{{ address: \"{_unbound.Address}\", tlsName: \"{UnboundDot.TlsName}\", caFile: \"{_unbound.CaFile}\" }}";

    [Fact]
    public async Task Query_FromPublicSourceAddress_RefusedAndCounted_PrivateServed()
    {
        // The gateway and its own unbound in one namespace, clients in another over a veth carrying a public
        // (198.51.100.0/24, TEST-NET-2) and a private (192.168.77.0/24) network: traffic never leaves the namespaces.
        await using NetworkNamespace server = await NetworkNamespace.CreateAsync("aclsrv");
        await using NetworkNamespace client = await NetworkNamespace.CreateAsync("aclcli");
        await server.ConnectAsync(client, "198.51.100.1/24", "198.51.100.2/24", prefix: "acl");
        await ProcessRunner.ShCheckedAsync($"ip -n {server.Name} addr add 192.168.77.1/24 dev acla && ip -n {client.Name} addr add 192.168.77.2/24 dev aclb");
        await using UnboundDot unbound = await UnboundDot.StartAsync(server);
        int admin = NetworkNamespace.RandomPort();
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["0.0.0.0:53"]
              upstreams:
                - {"{"} address: "{unbound.Address}", tlsName: "{UnboundDot.TlsName}", caFile: "{unbound.CaFile}" {"}"}
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml, server);

        foreach (string transport in new[] { "+notcp", "+tcp" })
        {
            string refused = (await client.ShAsync($"kdig @198.51.100.1 -b 198.51.100.2 {transport} +time=5 +retry=0 a.test A", KdigTimeout)).Output;
            Assert.Contains("status: REFUSED", refused);
            Assert.DoesNotContain("10.0.0.1", refused);

            string served = (await client.ShAsync($"kdig @192.168.77.1 -b 192.168.77.2 {transport} +time=5 +retry=0 a.test A", KdigTimeout)).Output;
            Assert.Contains("status: NOERROR", served);
            Assert.Contains("10.0.0.1", served);
        }

        string metrics = await PrometheusText.FetchAsync(admin, server);
        Assert.Equal(2, PrometheusText.Sum(metrics, "dns_client_refused_total"));
        Assert.Contains("is not in dns-dot.allowClients", gateway.Output);

        // The default ACL is not "everyone": no open-resolver warning although 0.0.0.0 is public.
        Assert.DoesNotContain("open resolver", gateway.Output);
    }

    [Fact]
    public async Task Start_PublicListenAndAclAdmitsAll_WarnsOpenResolver()
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        string yaml = $"""
            dns-dot:
              listen: ["0.0.0.0:{port}"]
              allowClients: [0.0.0.0/0, "::/0"]
              upstreams: [{Upstream}]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);
        Assert.Contains($"dns-dot: 0.0.0.0:{port} can be reached from public addresses and allowClients admits every address", gateway.Output);
    }

    [Fact]
    public async Task Flood_FromOneNetwork_HeldToItsRateWhileAnotherNetworkIsServed()
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        int admin = PrometheusText.FreePort();
        const int Qps = 100;
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              rateLimit: {"{"} qps: {Qps}, burst: {Qps}, ipv4Prefix: 24, slip: 2 {"}"}
              upstreams: [{Upstream}]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);

        // The flooding network is 127.0.0.0/24; the other client sits in 127.0.1.0/24 (loopback has all of 127/8).
        using var flooder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        flooder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        flooder.Connect(IPAddress.Loopback, port);
        int answered = 0, truncated = 0;
        using var stop = new CancellationTokenSource();
        Task receiver = Task.Run(async () =>
        {
            byte[] buffer = new byte[4096];
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    int n = await flooder.ReceiveAsync(buffer, SocketFlags.None, stop.Token);
                    if ((buffer[2] & 0x02) != 0)
                    {
                        Interlocked.Increment(ref truncated);
                    }
                    else if (DnsDotClient.Rcode(buffer.AsSpan(0, n)) == 0)
                    {
                        Interlocked.Increment(ref answered);
                    }
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        var other = new List<Task<byte[]?>>();
        var clock = Stopwatch.StartNew();
        int sent = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            // About 5,000 queries a second from the flooder: 50 times its limit.
            for (int i = 0; i < 50; i++)
            {
                flooder.Send(DnsDotClient.Query("a.test", 1, (ushort)sent++));
            }

            if (sent % 1000 == 0)
            {
                other.Add(QueryFromAsync(IPAddress.Parse("127.0.1.1"), port, DnsDotClient.Query("a.test", 1, (ushort)sent)));
            }

            await Task.Delay(10);
        }

        double elapsed = clock.Elapsed.TotalSeconds;
        byte[]?[] otherAnswers = await Task.WhenAll(other);
        await Task.Delay(500);
        await stop.CancelAsync();
        await receiver;
        _output.WriteLine($"flooder: {sent} sent in {elapsed:0.0} s, {answered} answered, {truncated} truncated; other client: {otherAnswers.Count(a => a is not null)}/{otherAnswers.Length} answered");

        Assert.InRange(answered, Qps * elapsed * 0.5, Qps + (Qps * (elapsed + 1)));
        Assert.True(truncated > 0, "over the limit, every second query gets an empty TC=1 answer (slip 2)");
        Assert.InRange(truncated, (sent - answered) * 0.3, (sent - answered) * 0.55);
        Assert.All(otherAnswers, a => Assert.True(a is not null && DnsDotClient.Rcode(a) == 0 && (a[2] & 0x02) == 0, "the other network is served normally"));

        string metrics = await PrometheusText.FetchAsync(admin);
        Assert.True(PrometheusText.Sum(metrics, "dns_client_rate_limited_total", "action=\"dropped\"") > 0);
        Assert.True(PrometheusText.Sum(metrics, "dns_client_rate_limited_total", "action=\"truncated\"") > 0);
    }

    [Fact]
    public async Task Flood_OverTcp_OverTheLimitAnsweredRefusedOnTheSameConnection()
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        string yaml = $"""
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              rateLimit: {"{"} qps: 5, burst: 10 {"}"}
              upstreams: [{Upstream}]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);

        // 60 queries pipelined at once on one connection: the burst (10) is answered, the rest get REFUSED (a TCP
        // client cannot be told to retry with TC, and dropping would leave it waiting) and the connection stays open.
        using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await tcp.SendAsync(Frames(60, "a.test", 1));
        var rcodes = new List<int>();
        for (int i = 0; i < 60; i++)
        {
            rcodes.Add(DnsDotClient.Rcode(await ReadFrameAsync(tcp, TimeSpan.FromSeconds(10))));
        }

        int served = rcodes.Count(r => r == 0);
        _output.WriteLine($"served {served}, refused {rcodes.Count(r => r == 5)}");
        Assert.InRange(served, 10, 16);
        Assert.Equal(60 - served, rcodes.Count(r => r == 5));

        // Still the same connection, and served again once the bucket refilled.
        await Task.Delay(1500);
        await tcp.SendAsync(Frames(1, "a.test", 1));
        Assert.Equal(0, DnsDotClient.Rcode(await ReadFrameAsync(tcp, TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public async Task TcpClients_PipelineWithoutReading_ClosedAndGatewayRssStaysFlat()
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        int admin = PrometheusText.FreePort();
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              upstreams: [{Upstream}]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);

        // Warm up (and cache big.test: ~3 KB answers), then take the baseline.
        Assert.NotNull(await DnsDotClient.UdpAsync(port, DnsDotClient.Query("big.test", 16, 1), TimeSpan.FromSeconds(5)));
        await Task.Delay(1000);
        long before = PrometheusText.Rss(gateway.Pid);

        const int Connections = 8;
        byte[] burst = Frames(500, "big.test", 16);
        var clients = new List<Socket>();
        try
        {
            for (int c = 0; c < Connections; c++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096, SendTimeout = 40_000 };
                await socket.ConnectAsync(IPAddress.Loopback, port);
                clients.Add(socket);
            }

            // Each client keeps pipelining queries and never reads an answer; only the gateway closing the connection
            // (a reset) ends its loop.
            Task<bool>[] closed = clients.Select(socket => Task.Run(() =>
            {
                try
                {
                    while (true)
                    {
                        socket.Send(burst);
                    }
                }
                catch (SocketException e)
                {
                    return e.SocketErrorCode != SocketError.TimedOut;
                }
            })).ToArray();

            var clock = Stopwatch.StartNew();
            long peak = before;
            while (!closed.All(t => t.IsCompleted) && clock.Elapsed < TimeSpan.FromSeconds(45))
            {
                peak = Math.Max(peak, PrometheusText.Rss(gateway.Pid));
                await Task.Delay(50);
            }

            long after = PrometheusText.Rss(gateway.Pid);
            int closedCount = closed.Count(t => t.IsCompleted && t.Result);
            _output.WriteLine($"RSS before {before / 1048576.0:0.0} MiB, peak {peak / 1048576.0:0.0} MiB, after {after / 1048576.0:0.0} MiB; closed {closedCount}/{Connections} in {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Equal(Connections, closedCount);
            // The hole held every unread answer (256 pipelined x 128 KiB: 32+ MiB per connection, 256+ MiB for these
            // eight) for as long as the client liked. What remains is garbage the GC has not yet collected: the
            // answers queued when it last ran (promoted to gen1) and its gen0 budget, which the runtime sizes from
            // the L3 cache (32 MiB here): 30-45 MiB measured on a 2-core EPYC, freed by the next collections.
            Assert.True(peak - before < 64L * 1024 * 1024, $"RSS grew by {(peak - before) / 1048576.0:0.0} MiB while {Connections} clients did not read");

            string metrics = await PrometheusText.FetchAsync(admin);
            Assert.True(PrometheusText.Sum(metrics, "dns_client_connections_aborted_total") >= Connections, metrics);
        }
        finally
        {
            foreach (Socket socket in clients)
            {
                socket.Dispose();
            }
        }

        // And it still serves.
        byte[]? answer = await DnsDotClient.UdpAsync(port, DnsDotClient.Query("a.test", 1, 2), TimeSpan.FromSeconds(5));
        Assert.NotNull(answer);
        Assert.Equal(0, DnsDotClient.Rcode(answer));
    }

    [Fact]
    public async Task Slowloris_TricklingAndSurplusConnections_ClosedWhileAnotherClientIsServed()
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        int admin = PrometheusText.FreePort();
        const int Cap = 4;
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              clientIdleTimeoutMs: 1500
              maxConnectionsPerClient: {Cap}
              upstreams: [{Upstream}]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);
        Assert.NotNull(await DnsDotClient.UdpAsync(port, DnsDotClient.Query("a.test", 1, 1), TimeSpan.FromSeconds(10)));

        // The attacker (127.0.0.1) opens two connections more than its cap, then trickles one query byte every
        // 300 ms on each: always within the idle timeout, never a whole query.
        byte[] frame = Frames(1, "a.test", 1);
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < Cap + 2; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                await socket.ConnectAsync(IPAddress.Loopback, port);
                sockets.Add(socket);
            }

            var clock = Stopwatch.StartNew();
            Task<TimeSpan>[] trickles = sockets.Select(socket => Task.Run(async () =>
            {
                Task<int> closed = socket.ReceiveAsync(new byte[512], SocketFlags.None);
                for (int b = 0; !closed.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(30); b = (b + 1) % frame.Length)
                {
                    try
                    {
                        await socket.SendAsync(frame.AsMemory(b, 1));
                    }
                    catch (SocketException)
                    {
                        break;
                    }

                    await Task.WhenAny(closed, Task.Delay(300));
                }

                try
                {
                    Assert.Equal(0, await closed.WaitAsync(TimeSpan.FromSeconds(5)));
                }
                catch (SocketException)
                {
                    // A reset is a close too.
                }

                return clock.Elapsed;
            })).ToArray();

            // Meanwhile another client is answered over TCP.
            for (int i = 0; i < 3; i++)
            {
                string other = (await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", port.ToString(), "-b", "127.0.1.1", "+tcp", "+time=5", "+retry=0", "a.test", "A"], KdigTimeout)).Output;
                Assert.Contains("10.0.0.1", other);
            }

            TimeSpan[] closedAfter = await Task.WhenAll(trickles);
            _output.WriteLine($"closed after {string.Join(", ", closedAfter.Select(t => $"{t.TotalSeconds:0.0} s"))}");

            // Every connection is closed although bytes kept coming: the two over the cap at once, the others when
            // their query was not whole 1.5 s after its first byte (idle timeout alone would never fire).
            Assert.All(closedAfter, t => Assert.True(t < TimeSpan.FromSeconds(15), $"still open after {t.TotalSeconds:0.0} s"));
            string metrics = await PrometheusText.FetchAsync(admin);
            Assert.Equal(2, PrometheusText.Sum(metrics, "dns_client_connections_rejected_total"));
            Assert.Equal(Cap, PrometheusText.Sum(metrics, "dns_client_connections_aborted_total", "reason=\"slow_query\""));
        }
        finally
        {
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }
        }

        // The attacker's slots are free again: a well-behaved query from the same address is answered over TCP.
        Assert.Contains("10.0.0.1", (await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", port.ToString(), "+tcp", "+time=5", "+retry=0", "a.test", "A"], KdigTimeout)).Output);
        Assert.False(gateway.HasExited);
    }

    [Fact]
    public async Task OversizeQuery_FormErrWhileOtherClientsOnTheSameUpstreamConnectionSucceed()
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        int admin = PrometheusText.FreePort();
        string yaml = $"""
            host:
              admin: {"{"} listen: "127.0.0.1:{admin}" {"}"}
            dns-dot:
              listen: ["127.0.0.1:{port}"]
              cache: {"{"} enabled: false {"}"}
              minConnections: 1
              upstreamMaxConnections: 1
              upstreams: [{Upstream}]
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);
        Assert.NotNull(await DnsDotClient.UdpAsync(port, DnsDotClient.Query("a.test", 1, 1), TimeSpan.FromSeconds(5)));

        // Another client keeps 400 queries flowing over the one shared upstream connection meanwhile.
        Task<int> others = Task.Run(async () =>
        {
            var tasks = new List<Task<byte[]?>>();
            for (int i = 0; i < 400; i++)
            {
                tasks.Add(DnsDotClient.UdpAsync(port, DnsDotClient.Query("a.test", 1, (ushort)(1000 + i)), TimeSpan.FromSeconds(5)));
                if (i % 20 == 0)
                {
                    await Task.Delay(5);
                }
            }

            byte[]?[] answers = await Task.WhenAll(tasks);
            return answers.Count(a => a is not null && DnsDotClient.Rcode(a) == 0);
        });

        // 65,500 bytes: an EDNS option of an unassigned code (forwarded as-is) filling the query to just under the
        // TCP limit; with our OPT, keepalive and padding it would need more than 65,535 bytes upstream.
        byte[] oversize = OversizeQuery(65_500, id: 0x5151);
        using (var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            byte[] frame = new byte[2 + oversize.Length];
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)oversize.Length);
            oversize.CopyTo(frame, 2);
            await tcp.SendAsync(frame);
            byte[] answer = await ReadFrameAsync(tcp, TimeSpan.FromSeconds(10));
            Assert.Equal(0x5151, DnsDotClient.Id(answer));
            Assert.Equal(1, DnsDotClient.Rcode(answer));
        }

        Assert.Equal(400, await others);
        string metrics = await PrometheusText.FetchAsync(admin);
        Assert.Equal(0, PrometheusText.Sum(metrics, "dns_upstream_unmatched_responses_total"));
        Assert.Equal(0, PrometheusText.Sum(metrics, "dns_upstream_read_errors_total"));
        Assert.Equal(0, PrometheusText.Sum(metrics, "dns_upstream_connections_closed_total"));
        Assert.Equal(1, PrometheusText.Sum(metrics, "dns_upstream_connections_opened_total"));
        Assert.Contains("would exceed 65,535 bytes when forwarded", gateway.Output);
    }

    [Fact]
    public async Task Check_WorldWritableRulesFile_ExitsTwoAtTheRulesEntry()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "rules-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        string rules = Path.Combine(folder, "rules.csx");
        await File.WriteAllTextAsync(rules, "Block(\"ads.test\");\n");
        File.SetUnixFileMode(rules, (UnixFileMode)0b110_110_110);
        string config = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, "dns-dot:\n  listen: [127.0.0.1:5399]\n  rules:\n    - rules.csx\n");
        string gateway = await GatewayBuild.GatewayDirectoryAsync();

        CommandResult result = await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", config], TimeSpan.FromMinutes(2));

        Assert.True(result.ExitCode == 2, result.Output);
        Assert.Contains($"{config}:4:7: ", result.StdErr);
        Assert.Contains($"rule script '{rules}' is writable by group or others (mode 0666)", result.StdErr);

        File.SetUnixFileMode(rules, (UnixFileMode)0b110_100_100);
        CommandResult fixedResult = await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", config], TimeSpan.FromMinutes(2));
        Assert.True(fixedResult.ExitCode == 0, fixedResult.Output);
    }

    private static byte[] OversizeQuery(int total, ushort id)
    {
        byte[] head = DnsDotClient.Query("a.test", 1, id);
        int optionData = total - head.Length - 4;
        var query = new byte[total];
        head.CopyTo(query, 0);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(head.Length - 2), (ushort)(optionData + 4));
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(head.Length), 65001);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(head.Length + 2), (ushort)optionData);
        Random.Shared.NextBytes(query.AsSpan(head.Length + 4));
        return query;
    }

    private static byte[] Frames(int count, string name, ushort type)
    {
        var frames = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            byte[] query = DnsDotClient.Query(name, type, (ushort)i);
            frames.Add((byte)(query.Length >> 8));
            frames.Add((byte)query.Length);
            frames.AddRange(query);
        }

        return frames.ToArray();
    }

    private static async Task<byte[]> ReadFrameAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        byte[] prefix = new byte[2];
        await ReadExactlyAsync(socket, prefix, cts.Token);
        byte[] message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await ReadExactlyAsync(socket, message, cts.Token);
        return message;
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        for (int read = 0; read < buffer.Length;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                throw new IOException("connection closed before the answer");
            }

            read += n;
        }
    }

    /// <summary>
    /// One query from <paramref name="source"/> as a stub resolver asks it: up to three tries, 2 s each. A retry
    /// covers a datagram the kernel dropped from the listening socket's full queue while the flood fills it (seen at
    /// load average 40); a client held to the flooder's rate would lose all three.
    /// </summary>
    private static async Task<byte[]?> QueryFromAsync(IPAddress source, int port, byte[] query)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port);
        byte[] buffer = new byte[4096];
        for (int attempt = 0; attempt < 3; attempt++)
        {
            await socket.SendAsync(query);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                return buffer[..n];
            }
            catch (OperationCanceledException)
            {
            }
        }

        return null;
    }
}
