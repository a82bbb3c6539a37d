using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Kit;

/// <summary>
/// The tcp-forward sample (tests/TcpForwardPlugin), published and dropped into the published gateway, forwarding to a
/// loopback server the test plays: half-close and resets passed on, idle connections closed, one-way downloads kept.
/// </summary>
public sealed class TcpForwardPluginTests : IClassFixture<TcpForwardPluginTests.Gateway>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly Gateway _gateway;

    public TcpForwardPluginTests(Gateway gateway)
    {
        _gateway = gateway;
    }

    [Fact]
    public async Task Forward_ClientHalfCloses_ServerSeesEndAndTheAnswerArrives()
    {
        (Socket client, Socket server) = await _gateway.ConnectThroughAsync();
        using (client)
        using (server)
        {
            await client.SendAsync("GET the file"u8.ToArray());
            client.Shutdown(SocketShutdown.Send);

            byte[] request = await ReadToEndAsync(server);
            await server.SendAsync(Encoding.ASCII.GetBytes("answer to " + Encoding.ASCII.GetString(request)));
            server.Shutdown(SocketShutdown.Send);

            Assert.Equal("answer to GET the file", Encoding.ASCII.GetString(await ReadToEndAsync(client)));
        }
    }

    [Fact]
    public async Task Forward_OneWayDownloadLongerThanIdleTimeout_NotCut()
    {
        (Socket client, Socket server) = await _gateway.ConnectThroughAsync();
        using (client)
        using (server)
        {
            Task<byte[]> download = ReadToEndAsync(client);

            // idleTimeoutSeconds is 2: eight chunks 600 ms apart take ~4.8 s while the client never sends a byte.
            for (int i = 0; i < 8; i++)
            {
                await server.SendAsync(new byte[4096]);
                await Task.Delay(600);
            }

            server.Shutdown(SocketShutdown.Send);
            Assert.Equal(8 * 4096, (await download).Length);
        }
    }

    [Fact]
    public async Task Forward_SilentConnection_ClosedAfterIdleTimeoutBothWays()
    {
        (Socket client, Socket server) = await _gateway.ConnectThroughAsync();
        using (client)
        using (server)
        {
            var clock = Stopwatch.StartNew();

            Assert.Empty(await ReadToEndAsync(client));
            Assert.Empty(await ReadToEndAsync(server));
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.5), Patience);
        }
    }

    [Fact]
    public async Task Forward_ServerResets_ClientIsReset()
    {
        (Socket client, Socket server) = await _gateway.ConnectThroughAsync();
        using (client)
        {
            await server.SendAsync("half of it"u8.ToArray());
            byte[] first = new byte[10];
            Assert.Equal(10, await client.ReceiveAsync(first).WaitAsync(Patience));

            server.LingerState = new LingerOption(true, 0);
            server.Dispose();

            SocketException reset = await Assert.ThrowsAsync<SocketException>(() => ReadToEndAsync(client));
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        }
    }

    [Fact]
    public async Task Time_AnyDatagram_Rfc868SecondsSince1900()
    {
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        udp.Connect(IPAddress.Loopback, _gateway.Port);
        await udp.SendAsync(new byte[1]);

        UdpReceiveResult reply = await udp.ReceiveAsync().WaitAsync(Patience);

        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 2_208_988_800L;
        Assert.Equal(4, reply.Buffer.Length);
        Assert.InRange(BinaryPrimitives.ReadUInt32BigEndian(reply.Buffer), now - 5, now + 5);
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var received = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        return received.ToArray();
    }

    /// <summary>One published gateway with the sample dropped in, forwarding to a listener the tests accept on.</summary>
    public sealed class Gateway : IAsyncLifetime
    {
        private readonly Socket _target = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private GatewayProcess? _process;

        public int Port { get; } = EchoClient.FreePort();

        public async Task InitializeAsync()
        {
            _target.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _target.Listen();
            string gateway = await GatewayBuild.GatewayDirectoryAsync();
            string plugin = await GatewayBuild.PublishAsync("tests/TcpForwardPlugin", "tcp-forward");
            string extra = Path.Combine(Path.GetTempPath(), "gateway-e2e", "tcp-forward-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(extra);
            EchoClient.CopyFolder(plugin, Path.Combine(extra, "tcp-forward"));
            _process = await GatewayProcess.StartAsync($"""
                host:
                  plugins: ["{Path.Combine(gateway, "plugins")}", "{extra}"]
                tcp-forward:
                  listen: [127.0.0.1:{Port}]
                  target: 127.0.0.1:{((IPEndPoint)_target.LocalEndPoint!).Port}
                  idleTimeoutSeconds: 2
                """);
            await _process.WaitForOutputAsync("plugin tcp-forward: started", Patience);
        }

        /// <summary>A client connected through the gateway and the server-side socket the forward opened.</summary>
        public async Task<(Socket Client, Socket Server)> ConnectThroughAsync()
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port)).WaitAsync(Patience);
            Socket server = await _target.AcceptAsync().WaitAsync(Patience);
            return (client, server);
        }

        public async Task DisposeAsync()
        {
            _target.Dispose();
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }
        }
    }
}
