using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// SOCKS connections served on http-proxy's own epoll loop (issue 18's connection-rate work): raw SOCKS5 clients
/// against the published gateway and a TCP echo origin in this process. One loop thread serves many connections, so
/// a client that stalls must not hold up the others; the relay passes a half-close on; the gateway's timeouts and
/// its stop reach connections waiting on the loop; and a mixed port serves SOCKS whether the greeting is there when
/// the connection is accepted or comes later (the first byte is waited for on the loop: HTTP runs there too).
/// </summary>
public sealed class GatewaySocksLoopTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Socket _origin = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Socket> _clients = [];
    private Task _echo = Task.CompletedTask;

    private int OriginPort => ((IPEndPoint)_origin.LocalEndPoint!).Port;

    public Task InitializeAsync()
    {
        _origin.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _origin.Listen(512);
        _echo = EchoAsync();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (Socket client in _clients)
        {
            client.Dispose();
        }

        _stop.Cancel();
        _origin.Dispose();
        await _echo;
    }

    [Fact]
    public async Task Connect_WhileOthersStallMidNegotiation_AllServed_StalledStillOpen()
    {
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: []\n  socksListen: [\"127.0.0.1:{port}\"]\n  requestHeadersTimeoutSeconds: 300\n");
        // Half a greeting, and a greeting with half a request: each a receive parked on the loop.
        var stalled = new List<Socket>();
        for (int i = 0; i < 10; i++)
        {
            Socket halfGreeting = await ConnectAsync(port);
            await halfGreeting.SendAsync(new byte[] { 5 });
            Socket halfRequest = await ConnectAsync(port);
            await halfRequest.SendAsync(new byte[] { 5, 1, 0, 5, 1, 0, 1, 127 });
            stalled.Add(halfGreeting);
            stalled.Add(halfRequest);
        }

        var served = new Task[50];
        for (int i = 0; i < served.Length; i++)
        {
            served[i] = EchoThroughAsync(port, 1000 + i);
        }

        await Task.WhenAll(served).WaitAsync(Patience);
        foreach (Socket socket in stalled)
        {
            // Still open: a closed connection would be readable (0 bytes) at once.
            Assert.False(socket.Poll(0, SelectMode.SelectRead));
        }
    }

    [Fact]
    public async Task Tunnel_ClientHalfCloses_EchoArrivesWhole_ThenTheOriginsClose()
    {
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($"http-proxy:\n  listen: []\n  socksListen: [\"127.0.0.1:{port}\"]\n");
        Socket client = await TunnelAsync(port);
        byte[] data = TestOrigin.Payload(3 * 1024 * 1024);

        Task<byte[]> echoed = ReadToEndAsync(client);
        await client.SendAsync(data);
        client.Shutdown(SocketShutdown.Send);

        // The origin echoes until it sees the client's FIN, which the relay passed on, then closes: the client reads
        // all of it, then the end.
        Assert.Equal(data, await echoed.WaitAsync(Patience));
    }

    [Fact]
    public async Task Timeouts_StalledNegotiationAndIdleTunnel_ClosedByTheGateway()
    {
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: []\n  socksListen: [\"127.0.0.1:{port}\"]\n  requestHeadersTimeoutSeconds: 2\n  tunnelIdleTimeoutSeconds: 3\n");
        Socket stalled = await ConnectAsync(port);
        await stalled.SendAsync(new byte[] { 5, 1 });
        Socket idle = await TunnelAsync(port);

        Assert.Empty(await ReadToEndAsync(stalled).WaitAsync(Patience));
        Assert.Empty(await ReadToEndAsync(idle).WaitAsync(Patience));
    }

    /// <summary>
    /// The host's stop cancels every connection's token: each parked operation ends at once, so no connection is
    /// left for the host to close after its shutdown grace (it would log that it did).
    /// </summary>
    [Fact]
    public async Task Stop_WithTunnelsAndNegotiationsOpen_ExitsZero_NoConnectionLeftToTheHost()
    {
        int port = TestOrigin.FreePort();
        GatewayProcess gateway = await GatewayProcess.StartAsync($"http-proxy:\n  listen: []\n  socksListen: [\"127.0.0.1:{port}\"]\n");
        await using (gateway)
        {
            var open = new List<Socket>();
            for (int i = 0; i < 10; i++)
            {
                open.Add(await TunnelAsync(port));
                Socket negotiating = await ConnectAsync(port);
                await negotiating.SendAsync(new byte[] { 5 });
                open.Add(negotiating);
            }

            Task<byte[]>[] ends = [.. open.Select(ReadToEndOrResetAsync)];
            Assert.Equal(0, await gateway.StopAsync());
            await Task.WhenAll(ends).WaitAsync(Patience);
            Assert.DoesNotContain("still open after shutdown grace", gateway.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Issue 14's plugin swap with a SOCKS tunnel open on the old version: the old version's loop keeps serving it
    /// while the new version serves new connections; once it closes, the old version stops, its loop threads end and
    /// its load context is collected (a thread left running its code would keep it loaded).
    /// </summary>
    [Fact]
    public async Task Swap_WithTunnelOnOldVersion_TunnelServedToTheEnd_ThenOldVersionUnloaded()
    {
        using SwappableHttpProxy plugin = await SwappableHttpProxy.CreateAsync("socksswap");
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(
            $"{plugin.HostSection}http-proxy:\n  listen: []\n  socksListen: [\"127.0.0.1:{port}\"]\n");
        Socket old = await TunnelAsync(port);
        await EchoAsync(old, TestOrigin.Payload(1000));

        plugin.Redeploy();
        await gateway.WaitForOutputAsync("plugin http-proxy: old version draining", Patience);
        await EchoThroughAsync(port, 2000);
        await EchoAsync(old, TestOrigin.Payload(3000));
        Assert.DoesNotContain(SwappableHttpProxy.Unloaded, gateway.Output);

        old.Shutdown(SocketShutdown.Send);
        Assert.Empty(await ReadToEndAsync(old).WaitAsync(Patience));
        await gateway.WaitForOutputAsync(SwappableHttpProxy.Unloaded, Patience);
        Assert.DoesNotContain("leak", gateway.Output);
        await EchoThroughAsync(port, 4000);
        Assert.Equal(0, await gateway.StopAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connect_MixedPort_GreetingAtOnceOrLate_Served(bool late)
    {
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($"http-proxy:\n  listen: [\"127.0.0.1:{port}\"]\n");
        Socket client = await ConnectAsync(port);
        if (late)
        {
            // Long after the accept: the first byte is not there when the connection is put on the loop, which waits for it.
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        await NegotiateAsync(client);
        await EchoAsync(client, TestOrigin.Payload(4096));
    }

    private async Task EchoThroughAsync(int port, int length)
    {
        Socket client = await TunnelAsync(port);
        await EchoAsync(client, TestOrigin.Payload(length));
    }

    private static async Task EchoAsync(Socket client, byte[] data)
    {
        await client.SendAsync(data);
        byte[] back = new byte[data.Length];
        await ReadExactlyAsync(client, back);
        Assert.Equal(data, back);
    }

    private async Task<Socket> TunnelAsync(int port)
    {
        Socket client = await ConnectAsync(port);
        await NegotiateAsync(client);
        return client;
    }

    /// <summary>SOCKS5 without authentication, then CONNECT 127.0.0.1:origin (RFC 1928 §3, §4); asserts each reply.</summary>
    private async Task NegotiateAsync(Socket client)
    {
        await client.SendAsync(new byte[] { 5, 1, 0 });
        byte[] method = new byte[2];
        await ReadExactlyAsync(client, method);
        Assert.Equal([5, 0], method);
        await client.SendAsync(new byte[] { 5, 1, 0, 1, 127, 0, 0, 1, (byte)(OriginPort >> 8), (byte)OriginPort });
        byte[] reply = new byte[10];
        await ReadExactlyAsync(client, reply);
        Assert.Equal([5, 0, 0, 1, 127, 0, 0, 1], reply[..8]);
    }

    private async Task<Socket> ConnectAsync(int port)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _clients.Add(client);
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(Patience);
        return client;
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int received = await socket.ReceiveAsync(buffer.AsMemory(total)).AsTask().WaitAsync(Patience);
            Assert.NotEqual(0, received);
            total += received;
        }
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket)
    {
        using var all = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        int received;
        while ((received = await socket.ReceiveAsync(buffer)) > 0)
        {
            all.Write(buffer, 0, received);
        }

        return all.ToArray();
    }

    /// <summary>What arrives until the end; a reset is an end too (a stop may close with RST).</summary>
    private static async Task<byte[]> ReadToEndOrResetAsync(Socket socket)
    {
        try
        {
            return await ReadToEndAsync(socket);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return [];
        }
    }

    /// <summary>The origin: echoes each connection until its FIN, then closes.</summary>
    private async Task EchoAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _origin.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = EchoConnectionAsync(connection);
        }
    }

    private static async Task EchoConnectionAsync(Socket connection)
    {
        using (connection)
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                int received;
                while ((received = await connection.ReceiveAsync(buffer)) > 0)
                {
                    await connection.SendAsync(buffer.AsMemory(0, received));
                }

                connection.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The test ended the connection.
            }
        }
    }
}
