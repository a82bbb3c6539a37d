using System.Net.Sockets;
using System.Text;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// HTTP connections served on http-proxy's own epoll loops (issue 21): raw HTTP/1.1 clients against the published
/// gateway and a local origin. A loop thread serves many connections, so clients that stall in the middle of a head
/// or stop reading a large response must not hold up keep-alive clients on the same loop; every deadline (request
/// head, origin response, keep-alive idle) still reaches a connection waiting on a loop, and the answer the deadline
/// calls for (408, 504) still goes out; and a plugin swap leaves a keep-alive connection on the old version's loop
/// served to its end.
/// </summary>
public sealed class GatewayHttpLoopTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly List<RawHttpConnection> _clients = [];
    private TestOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = new TestOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (RawHttpConnection client in _clients)
        {
            client.Dispose();
        }

        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task KeepAliveClients_WhileOthersStallMidHeadOrStopReading_AllServed_StalledOpen_SlowReadersGetEverything()
    {
        const int Large = 16 * 1024 * 1024;
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: [\"127.0.0.1:{port}\"]\n  requestHeadersTimeoutSeconds: 300\n");
        // Half a head: a receive parked on a loop. A 16 MiB response nobody reads: a send parked on a loop (more than
        // the socket buffers of both hops hold).
        var halfHeads = new List<RawHttpConnection>();
        var slowReaders = new List<RawHttpConnection>();
        for (int i = 0; i < 10; i++)
        {
            RawHttpConnection half = await ConnectAsync(port);
            await half.SendAsync($"GET {_origin.Url}/bytes/16 HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            halfHeads.Add(half);
        }

        for (int i = 0; i < 4; i++)
        {
            RawHttpConnection slow = await ConnectAsync(port);
            await slow.SendAsync(Request($"/bytes/{Large}"));
            slowReaders.Add(slow);
        }

        var served = new Task[20];
        for (int i = 0; i < served.Length; i++)
        {
            served[i] = KeepAliveRequestsAsync(port, requests: 5, length: 1000 + i);
        }

        await Task.WhenAll(served).WaitAsync(Patience);
        foreach (RawHttpConnection half in halfHeads)
        {
            // Still open: a closed connection would be readable (0 bytes) at once.
            Assert.False(half.Socket.Poll(0, SelectMode.SelectRead));
        }

        foreach (RawHttpConnection slow in slowReaders)
        {
            await ExpectBodyAsync(slow, Large);
        }
    }

    [Fact]
    public async Task Deadlines_OnLoopConnections_HeadTimeoutGets408_OriginTimeoutGets504_IdleKeepAliveClosed()
    {
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: [\"127.0.0.1:{port}\"]\n  requestHeadersTimeoutSeconds: 2\n  originResponseTimeoutSeconds: 2\n  keepAliveTimeoutSeconds: 3\n");

        // The head deadline fires while the receive waits on the loop; the 408 is still sent, then the close.
        RawHttpConnection half = await ConnectAsync(port);
        await half.SendAsync($"GET {_origin.Url}/bytes/16 HTTP/1.1\r\n");
        Assert.StartsWith("HTTP/1.1 408 ", Encoding.ASCII.GetString(await half.ReadToCloseAsync().WaitAsync(Patience)));

        // The origin-response deadline fires while the origin connection (on the loop too) waits; the client gets 504.
        RawHttpConnection hung = await ConnectAsync(port);
        await hung.SendAsync(Request("/hang"));
        Assert.StartsWith("HTTP/1.1 504 ", await hung.ReadHeadAsync().WaitAsync(Patience));

        // Idle between requests: the keep-alive deadline closes the connection while it holds its origin connection;
        // that one is not pooled in its aborted state: the next client's request to the same origin is served.
        RawHttpConnection idle = await ConnectAsync(port);
        await idle.SendAsync(Request("/bytes/100"));
        await ExpectBodyAsync(idle, 100);
        Assert.Empty(await idle.ReadToCloseAsync().WaitAsync(Patience));
        RawHttpConnection next = await ConnectAsync(port);
        await next.SendAsync(Request("/bytes/200"));
        await ExpectBodyAsync(next, 200);
    }

    /// <summary>
    /// Issue 14's plugin swap with a keep-alive HTTP connection open on the old version: its loop keeps serving the
    /// connection's next requests (through its origin connection on that loop) while the new version serves new
    /// connections; once the client closes, the old version stops, its loop threads end and its load context is collected.
    /// </summary>
    [Fact]
    public async Task Swap_WithKeepAliveOnOldVersion_LaterRequestsServedByIt_ThenOldVersionUnloaded()
    {
        using SwappableHttpProxy plugin = await SwappableHttpProxy.CreateAsync("httploopswap");
        int port = TestOrigin.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($"{plugin.HostSection}http-proxy:\n  listen: [\"127.0.0.1:{port}\"]\n");
        RawHttpConnection old = await ConnectAsync(port);
        await old.SendAsync(Request("/bytes/1000"));
        await ExpectBodyAsync(old, 1000);

        plugin.Redeploy();
        await gateway.WaitForOutputAsync("plugin http-proxy: old version draining", Patience);
        await KeepAliveRequestsAsync(port, requests: 2, length: 2000);
        await old.SendAsync(Request("/bytes/3000"));
        await ExpectBodyAsync(old, 3000);
        Assert.DoesNotContain(SwappableHttpProxy.Unloaded, gateway.Output);

        old.Socket.Shutdown(SocketShutdown.Send);
        Assert.Empty(await old.ReadToCloseAsync().WaitAsync(Patience));
        await gateway.WaitForOutputAsync(SwappableHttpProxy.Unloaded, Patience);
        Assert.DoesNotContain("leak", gateway.Output);
        await KeepAliveRequestsAsync(port, requests: 2, length: 4000);
        Assert.Equal(0, await gateway.StopAsync());
    }

    /// <summary>One connection, <paramref name="requests"/> requests one after another on it, each answer checked.</summary>
    private async Task KeepAliveRequestsAsync(int port, int requests, int length)
    {
        RawHttpConnection client = await ConnectAsync(port);
        for (int i = 0; i < requests; i++)
        {
            await client.SendAsync(Request($"/bytes/{length}"));
            await ExpectBodyAsync(client, length);
        }
    }

    private string Request(string path) => $"GET {_origin.Url}{path} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n\r\n";

    /// <summary>Reads a 200 with TestOrigin's <paramref name="length"/> bytes as its Content-Length body.</summary>
    private static async Task ExpectBodyAsync(RawHttpConnection client, int length)
    {
        string head = await client.ReadHeadAsync().WaitAsync(Patience);
        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Equal(length.ToString(System.Globalization.CultureInfo.InvariantCulture), RawHttpConnection.FieldValue(head, "Content-Length"));
        Assert.Equal(TestOrigin.Payload(length), await client.ReadExactlyAsync(length).WaitAsync(Patience));
    }

    private async Task<RawHttpConnection> ConnectAsync(int port)
    {
        RawHttpConnection client = await RawHttpConnection.ConnectAsync(port).WaitAsync(Patience);
        lock (_clients)
        {
            _clients.Add(client);
        }

        return client;
    }
}
