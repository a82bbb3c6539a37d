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
/// the loop as they end NetworkStream's; and writes from several threads at once (the session's writer and an
/// SslStream answering from its read path) go out one by one, whole and in order.
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

    /// <summary>A connection whose server side is on a loop with small kernel buffers (sends park), as a LoopStream.</summary>
    private sealed class Pair : IDisposable
    {
        public required Socket Client { get; init; }
        public required Socket Server { get; init; }
        public required LoopSocket Loop { get; init; }
        public required LoopStream Stream { get; init; }

        /// <summary>The first write, when <see cref="ParkedAsync"/> made it: writer 0's 256 KB, parked in the socket.</summary>
        public Task First { get; set; } = Task.CompletedTask;

        public void Dispose()
        {
            Loop.Abort();
            Loop.Dispose();
            Server.Dispose();
            Client.Dispose();
        }
    }

    private async Task<Pair> PairAsync()
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await client.ConnectAsync(_listener.LocalEndPoint!).WaitAsync(Deadline);
        Socket server = await _listener.AcceptAsync().WaitAsync(Deadline);
        server.SendBufferSize = 4096;
        LoopSocket loop = _loops.TryAdd(server) ?? throw new InvalidOperationException("no loop took the socket");
        return new Pair { Client = client, Server = server, Loop = loop, Stream = new LoopStream(loop) };
    }

    private async Task<Pair> ParkedAsync()
    {
        Pair pair = await PairAsync();
        pair.First = pair.Stream.WriteAsync(Record(0, 0, 256 * 1024)).AsTask();
        Assert.False(pair.First.IsCompleted, "a 256 KB send did not park");
        return pair;
    }

    // A record: writer (1 byte), sequence (2), body length (4), then the body, every byte (writer * 31 + sequence).
    private static byte[] Record(int writer, int sequence, int bodyLength)
    {
        byte[] record = new byte[7 + bodyLength];
        record[0] = (byte)writer;
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(1), (ushort)sequence);
        BinaryPrimitives.WriteInt32BigEndian(record.AsSpan(3), bodyLength);
        record.AsSpan(7).Fill((byte)(writer * 31 + sequence));
        return record;
    }

    /// <summary>Reads records until <paramref name="count"/> arrived; each must be whole, unmixed with another.</summary>
    private static async Task<List<(int Writer, int Sequence)>> ReadRecordsAsync(Socket socket, int count)
    {
        var records = new List<(int Writer, int Sequence)>();
        byte[] header = new byte[7];
        for (int i = 0; i < count; i++)
        {
            await ReadExactlyAsync(socket, header);
            int writer = header[0];
            int sequence = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(1));
            int length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(3));
            Assert.InRange(length, 1, 1 << 20);
            byte[] body = new byte[length];
            await ReadExactlyAsync(socket, body);
            byte expected = (byte)(writer * 31 + sequence);
            int wrong = body.AsSpan().IndexOfAnyExcept(expected);
            Assert.True(wrong < 0, $"record {i} (writer {writer}, #{sequence}) holds a foreign byte at {wrong}");
            records.Add((writer, sequence));
        }

        return records;
    }

    [Fact]
    public async Task WriteAsync_ConcurrentWritersWhileSendsPark_EachWriteArrivesWholeAndInItsWritersOrder()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        using Pair pair = await PairAsync();
        LoopStream stream = pair.Stream;
        Socket client = pair.Client;
        // The kernel's buffers hold less than one large write: it parks until the peer reads.
        ValueTask parked = stream.WriteAsync(Record(9, 0, 64 * 1024));
        Assert.False(parked.IsCompleted, "a 64 KB send did not park: the buffers are too large for this test");
        Assert.Equal([(9, 0)], await ReadRecordsAsync(client, 1).WaitAsync(Deadline));
        await parked.AsTask().WaitAsync(Deadline);

        const int Writers = 6;
        const int PerWriter = 60;
        // Writes of 1 KB to 24 KB against 4 KB kernel buffers: most park, and the others arrive meanwhile.
        Task[] writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (int i = 0; i < PerWriter; i++)
            {
                await stream.WriteAsync(Record(w, i, random.Next(1024, 24 * 1024)));
            }
        })).ToArray();

        List<(int Writer, int Sequence)> records = await ReadRecordsAsync(client, Writers * PerWriter).WaitAsync(Deadline * 2);
        await Task.WhenAll(writers).WaitAsync(Deadline);

        for (int w = 0; w < Writers; w++)
        {
            Assert.Equal(Enumerable.Range(0, PerWriter), records.Where(r => r.Writer == w).Select(r => r.Sequence));
        }
    }

    [Fact]
    public async Task WriteAsync_WritesCalledWhileOneIsParked_SentInCallOrder()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        // The first write fills the kernel's buffers and parks; the next ones wait for their turn, in call order.
        using Pair pair = await ParkedAsync();
        Task[] later = Enumerable.Range(1, 4).Select(i => pair.Stream.WriteAsync(Record(i, i, 100 * i)).AsTask()).ToArray();

        List<(int Writer, int Sequence)> records = await ReadRecordsAsync(pair.Client, 5).WaitAsync(Deadline);
        await Task.WhenAll([pair.First, .. later]).WaitAsync(Deadline);

        Assert.Equal([0, 1, 2, 3, 4], records.Select(r => r.Writer));
    }

    [Fact]
    public async Task WriteAsync_WaitingWriteCancelled_EndsWithoutSendingAndTheNextOneGoesOn()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        using Pair pair = await ParkedAsync();
        using var cancel = new CancellationTokenSource();
        Task waiting = pair.Stream.WriteAsync(Record(1, 1, 1000), cancel.Token).AsTask();
        Task third = pair.Stream.WriteAsync(Record(2, 2, 1000)).AsTask();
        Assert.False(waiting.IsCompleted);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Deadline));
        Assert.False(pair.First.IsCompleted, "the cancelled wait ended the send under way");

        List<(int Writer, int Sequence)> records = await ReadRecordsAsync(pair.Client, 2).WaitAsync(Deadline);
        await Task.WhenAll(pair.First, third).WaitAsync(Deadline);
        Assert.Equal([0, 2], records.Select(r => r.Writer));
    }

    [Fact]
    public async Task WriteAsync_ResetWhileWritesWait_EveryWriteEnds()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        using Pair pair = await ParkedAsync();
        Task[] waiting = Enumerable.Range(1, 3).Select(i => pair.Stream.WriteAsync(Record(i, i, 1000)).AsTask()).ToArray();

        LoopStream.ResetAction(pair.Server, pair.Loop)();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pair.First.WaitAsync(Deadline));
        foreach (Task write in waiting)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(Deadline));
        }
    }
}
