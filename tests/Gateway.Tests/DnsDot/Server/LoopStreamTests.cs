using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Server.Epoll;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot.Server;

/// <summary>
/// <see cref="StreamSession"/> over a real TCP connection served by one of dns-dot's epoll loops (<see cref="LoopStream"/>):
/// the limits the session enforces through its stream's cancellation (idle, host limit, write timeout) end waits on
/// the loop as they end NetworkStream's.
/// </summary>
public sealed class LoopStreamTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly Meter _meter = new("loop-stream-test");
    private readonly EpollLoopGroup _loops = new("test");
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public LoopStreamTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _loops.Dispose();
        _meter.Dispose();
    }

    private sealed class AnswerAll : IRuleEvaluator
    {
        public Verdict Evaluate(DnsQuery query) => Verdict.Answer("10.0.0.5", 60);
    }

    /// <summary>A served connection: the client's socket, the server's on a loop, and the session over it.</summary>
    private sealed class Served : IDisposable
    {
        public required Socket Client { get; init; }
        public required Socket Server { get; init; }
        public required LoopSocket Loop { get; init; }
        public required StreamSession Session { get; init; }

        public void Dispose()
        {
            // As the handlers do: off the loop, then the socket closes.
            Loop.Abort();
            Loop.Dispose();
            Server.Dispose();
            Client.Dispose();
        }
    }

    private async Task<Served> ServeAsync(DnsDotOptions options, TimeSpan? readLimit = null, int bufferSize = 0)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (bufferSize > 0)
        {
            client.ReceiveBufferSize = bufferSize;
        }

        await client.ConnectAsync(_listener.LocalEndPoint!).WaitAsync(Deadline);
        Socket server = await _listener.AcceptAsync().WaitAsync(Deadline);
        if (bufferSize > 0)
        {
            server.SendBufferSize = bufferSize;
        }

        LoopSocket loop = _loops.TryAdd(server) ?? throw new InvalidOperationException("no loop took the socket");
        var metrics = new DnsDotMetrics(_meter);
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var resolver = new DnsResolver(options, group, new Dictionary<string, UpstreamGroup>(), null, metrics, NullLogger.Instance) { Rules = new AnswerAll() };
        var gate = new ClientGate(options, [], metrics.Serving, NullLogger.Instance);
        var session = new StreamSession(new LoopStream(loop), resolver, gate, NetAddress.Parse("127.0.0.1"), DnsTransport.Tcp, LoopStream.ResetAction(server, loop), metrics,
            CancellationToken.None, readLimit);
        return new Served { Client = client, Server = server, Loop = loop, Session = session };
    }

    private static byte[] Frames(int count)
    {
        var frames = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            byte[] query = DnsTestMessages.Query("loop.test", 1, id: (ushort)i);
            frames.Add((byte)(query.Length >> 8));
            frames.Add((byte)query.Length);
            frames.AddRange(query);
        }

        return frames.ToArray();
    }

    private static async Task<byte[]> ReadFrameAsync(Socket socket)
    {
        byte[] length = new byte[2];
        await ReadExactlyAsync(socket, length);
        byte[] message = new byte[BinaryPrimitives.ReadUInt16BigEndian(length)];
        await ReadExactlyAsync(socket, message);
        return message;
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        for (int at = 0; at < buffer.Length;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(at)).AsTask().WaitAsync(Deadline);
            Assert.NotEqual(0, n);
            at += n;
        }
    }

    [Fact]
    public async Task RunAsync_PipelinedQueriesOnALoop_EveryOneAnsweredOnTheLoop()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return; // Linux only: elsewhere connections run on System.Net.Sockets.
        }

        using Served served = await ServeAsync(new DnsDotOptions());
        Task<string> run = served.Session.RunAsync();
        await served.Client.SendAsync(Frames(300));
        var ids = new HashSet<int>();
        for (int i = 0; i < 300; i++)
        {
            byte[] answer = await ReadFrameAsync(served.Client);
            Assert.Equal(0, answer[3] & 0x0F);
            ids.Add(BinaryPrimitives.ReadUInt16BigEndian(answer));
        }

        served.Client.Shutdown(SocketShutdown.Send);
        Assert.Equal("closed by the client", await run.WaitAsync(Deadline));
        Assert.Equal(300, ids.Count);
        Assert.True(served.Loop.ReadEvents > 0, "the loop served no read event");
    }

    [Fact]
    public async Task RunAsync_IdleOnALoop_ClosedAtTheIdleTimeout()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        using Served served = await ServeAsync(new DnsDotOptions { ClientIdleTimeoutMs = 300 });
        Task<string> run = served.Session.RunAsync();
        await served.Client.SendAsync(Frames(1));
        await ReadFrameAsync(served.Client);

        Assert.Equal("idle timeout", await run.WaitAsync(Deadline));
    }

    [Fact]
    public async Task RunAsync_HostIdleLimitOnALoop_ClosedAtTheHostLimit()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        using Served served = await ServeAsync(new DnsDotOptions { ClientIdleTimeoutMs = 600_000 }, readLimit: TimeSpan.FromMilliseconds(300));
        Task<string> run = served.Session.RunAsync();
        await served.Client.SendAsync(Frames(1));
        await ReadFrameAsync(served.Client);

        Assert.Equal("idle timeout", await run.WaitAsync(Deadline));
    }

    [Fact]
    public async Task RunAsync_QueryTrickledOnALoop_ClosedAsSlowQuery()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        using Served served = await ServeAsync(new DnsDotOptions { ClientIdleTimeoutMs = 400 });
        using var aborted = new MeterListenerCount(_meter, "dns.client.connections.aborted");
        Task<string> run = served.Session.RunAsync();
        // Two bytes of a length that promises more: the message never completes.
        await served.Client.SendAsync(new byte[] { 0, 40, 1 });

        Assert.StartsWith("a query did not arrive whole", await run.WaitAsync(Deadline));
        Assert.Equal("slow_query", aborted.LastTag("reason"));
    }

    [Fact]
    public async Task RunAsync_ClientNeverReadsOnALoop_ClosedAtTheBufferCapWithAReset()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        // The cap is passed on the loop's own thread (the read loop answers from the cache there): the reset must not
        // wait for the loop to let go of the socket.
        using Served served = await ServeAsync(new DnsDotOptions { MaxBufferedAnswerBytes = 65_537, ClientWriteTimeoutMs = 60_000 }, bufferSize: 4096);
        using var aborted = new MeterListenerCount(_meter, "dns.client.connections.aborted");
        Task<string> run = served.Session.RunAsync();
        try
        {
            await served.Client.SendAsync(Frames(3000));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // The reset can come before the last queries left.
        }

        Assert.Equal("closed: the client does not read its answers", await run.WaitAsync(Deadline));
        Assert.Equal("buffer_cap", aborted.LastTag("reason"));
        await AssertResetAsync(served.Client);
    }

    private static async Task AssertResetAsync(Socket client)
    {
        var buffer = new byte[64 * 1024];
        var error = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await client.ReceiveAsync(buffer).WaitAsync(Deadline) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
    }

    [Fact]
    public async Task RunAsync_ClientNeverReadsOnALoop_ClosedAfterTheWriteTimeoutWithAReset()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        // Small kernel buffers and a cap far above what they hold: the loop's send waits until the write timeout.
        using Served served = await ServeAsync(new DnsDotOptions { ClientWriteTimeoutMs = 300, MaxBufferedAnswerBytes = 8 * 1024 * 1024 }, bufferSize: 4096);
        using var aborted = new MeterListenerCount(_meter, "dns.client.connections.aborted");
        Task<string> run = served.Session.RunAsync();
        try
        {
            // ~90 KB of queries for ~140 KB of answers: the kernel's buffers hold a few KB of them.
            await served.Client.SendAsync(Frames(3000)).WaitAsync(Deadline);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // The reset can come before the last queries left (the write timeout does not wait for them).
        }

        Assert.Equal("closed: the client does not read its answers", await run.WaitAsync(Deadline));
        Assert.Equal("write_timeout", aborted.LastTag("reason"));

        await AssertResetAsync(served.Client);
    }
}
