using System.Net.Sockets;
using System.Text;
using Gateway.Host.Sockets;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Sockets;

/// <summary>
/// The recvmmsg/sendmmsg path of <see cref="UdpHostListener"/>: the handler is held on the first datagram
/// while the test queues a burst, so the next receive takes the burst in one batch.
/// </summary>
public sealed class UdpBatchingTests : HostSocketsTestBase
{
    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData("[::1]:0")]
    public async Task Burst_ManyClients_EachAnsweredWithItsOwnReply(string endpoint)
    {
        var handler = new GatedEcho();
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral(endpoint), handler);
        var clients = new UdpClient[100];
        try
        {
            using UdpClient? holder = await HoldHandlerAsync(listener, handler);
            for (int i = 0; i < clients.Length; i++)
            {
                clients[i] = new UdpClient(listener.Local.Address.Family);
                clients[i].Connect(listener.Local.ToIPEndPoint());
                await clients[i].SendAsync(Encoding.ASCII.GetBytes($"client {i}"));
            }

            handler.Release();
            for (int i = 0; i < clients.Length; i++)
            {
                UdpReceiveResult reply = await clients[i].ReceiveAsync().WaitAsync(Timeout);
                Assert.Equal($"CLIENT {i}", Encoding.ASCII.GetString(reply.Buffer));
            }

            if (UdpBatchNative.IsSupported)
            {
                // 101 datagrams in far fewer batches: the burst was taken many at a time.
                Assert.True(handler.Batches < handler.Datagrams / 2, $"{handler.Batches} batches for {handler.Datagrams} datagrams");
            }
        }
        finally
        {
            foreach (UdpClient? client in clients)
            {
                client?.Dispose();
            }
        }
    }

    [Fact]
    public async Task Burst_LargeDatagramBetweenSmallOnes_AllAnsweredWhole()
    {
        var handler = new GatedEcho();
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral("127.0.0.1:0"), handler);
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Client.ReceiveBufferSize = 1 << 20;
        client.Connect(listener.Local.ToIPEndPoint());
        await HoldHandlerAsync(listener, handler, client);

        byte[] large = new byte[60000];
        Random.Shared.NextBytes(large);
        large[0] = (byte)'l';
        await client.SendAsync("a"u8.ToArray());
        await client.SendAsync(large);
        await client.SendAsync("b"u8.ToArray());
        await client.SendAsync(large);
        await client.SendAsync("c"u8.ToArray());
        handler.Release();

        // Two 60000-byte replies do not fit one reply arena: the batch is sent in parts, in order.
        Assert.Equal("A"u8.ToArray(), (await client.ReceiveAsync().WaitAsync(Timeout)).Buffer);
        Assert.Equal(GatedEcho.Upper(large), (await client.ReceiveAsync().WaitAsync(Timeout)).Buffer);
        Assert.Equal("B"u8.ToArray(), (await client.ReceiveAsync().WaitAsync(Timeout)).Buffer);
        Assert.Equal(GatedEcho.Upper(large), (await client.ReceiveAsync().WaitAsync(Timeout)).Buffer);
        Assert.Equal("C"u8.ToArray(), (await client.ReceiveAsync().WaitAsync(Timeout)).Buffer);
    }

    [Fact]
    public async Task Burst_HandlerThrowsInTheMiddle_OthersStillAnswered()
    {
        var handler = new GatedEcho();
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral("127.0.0.1:0"), handler);
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(listener.Local.ToIPEndPoint());
        await HoldHandlerAsync(listener, handler, client);

        await client.SendAsync("one"u8.ToArray());
        await client.SendAsync("throw"u8.ToArray());
        await client.SendAsync("two"u8.ToArray());
        handler.Release();

        Assert.Equal("ONE", Encoding.ASCII.GetString((await client.ReceiveAsync().WaitAsync(Timeout)).Buffer));
        Assert.Equal("TWO", Encoding.ASCII.GetString((await client.ReceiveAsync().WaitAsync(Timeout)).Buffer));
    }

    [Fact]
    public async Task RepliesFromAnotherThread_InsideABatch_AllArrive()
    {
        var handler = new DeferredReplies();
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral("127.0.0.1:0"), handler);
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(listener.Local.ToIPEndPoint());
        for (int i = 0; i < 10; i++)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"q{i}"));
        }

        await handler.Received.WaitAsync(Timeout);

        // As an upstream read loop does: one batch around every answer it has, on its own thread.
        var thread = new Thread(handler.AnswerAllInOneBatch);
        thread.Start();
        Assert.True(thread.Join(Timeout));

        var replies = new HashSet<string>();
        for (int i = 0; i < 10; i++)
        {
            replies.Add(Encoding.ASCII.GetString((await client.ReceiveAsync().WaitAsync(Timeout)).Buffer));
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"answer q{i}").ToHashSet(), replies);
        Assert.Equal(UdpBatchNative.IsSupported, handler.AllQueued);
    }

    [Fact]
    public async Task Receive_AfterFullGarbageCollections_StillAnswers()
    {
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral("127.0.0.1:0"), new GatedEcho(startOpen: true));
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(listener.Local.ToIPEndPoint());
        await client.SendAsync("before"u8.ToArray());
        Assert.Equal("BEFORE", Encoding.ASCII.GetString((await client.ReceiveAsync().WaitAsync(Timeout)).Buffer));

        // The receive loop's native headers point into pinned arrays; a collection must not free them.
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        for (int i = 0; i < 5; i++)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"after {i}"));
            Assert.Equal($"AFTER {i}", Encoding.ASCII.GetString((await client.ReceiveAsync().WaitAsync(Timeout)).Buffer));
        }
    }

    [Fact]
    public async Task Unbatched_Listener_StillAnswers()
    {
        var datagrams = _meter.CreateCounter<long>("unbatched.datagrams");
        using var listener = new UdpHostListener(Ephemeral("127.0.0.1:0"), _guard, new GatedEcho(startOpen: true), NullLogger.Instance, datagrams, batched: false);
        listener.Start();
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(listener.Local.ToIPEndPoint());

        await client.SendAsync("plain"u8.ToArray());

        Assert.Equal("PLAIN", Encoding.ASCII.GetString((await client.ReceiveAsync().WaitAsync(Timeout)).Buffer));
    }

    // Sends "hold" (from its own client unless one is given) and waits until the handler is blocked on it.
    // Sends the datagram the handler holds on, from `client` or else from a socket of its own, which it returns: the
    // caller keeps it open until the end, or a client opened later could get its port and the held reply.
    private static async Task<UdpClient?> HoldHandlerAsync(UdpHostListener listener, GatedEcho handler, UdpClient? client = null)
    {
        UdpClient? holder = null;
        if (client is null)
        {
            holder = new UdpClient(listener.Local.Address.Family);
            holder.Connect(listener.Local.ToIPEndPoint());
        }

        await (client ?? holder)!.SendAsync("hold"u8.ToArray());
        await handler.Holding.WaitAsync(Timeout);
        if (client is not null)
        {
            // The held datagram's own reply arrives once released; read it first where the test reads this client.
            handler.SwallowHold = true;
        }

        return holder;
    }


    /// <summary>Upper-cases payloads; the first "hold" blocks until <see cref="Release"/>; counts batches it saw.</summary>
    private sealed class GatedEcho : IDatagramHandler, IDatagramBatchParticipant
    {
        private readonly ManualResetEventSlim _gate;
        private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public GatedEcho(bool startOpen = false) => _gate = new ManualResetEventSlim(startOpen);

        public Task Holding => _holding.Task;

        public volatile bool SwallowHold;

        public int Datagrams;

        public int Batches;

        public void Release() => _gate.Set();

        public void FlushBatch() => Batches++;

        public static byte[] Upper(ReadOnlySpan<byte> payload)
        {
            byte[] reply = payload.ToArray();
            for (int i = 0; i < reply.Length; i++)
            {
                reply[i] = reply[i] is >= (byte)'a' and <= (byte)'z' ? (byte)(reply[i] - 32) : reply[i];
            }

            return reply;
        }

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            Datagrams++;
            if (!DatagramBatch.Enlist(this))
            {
                Batches++;
            }

            if (payload.SequenceEqual("hold"u8))
            {
                _holding.TrySetResult();
                _gate.Wait(Timeout);
                if (SwallowHold)
                {
                    return;
                }
            }

            if (payload.SequenceEqual("throw"u8))
            {
                throw new InvalidOperationException("asked to throw");
            }

            request.Reply(Upper(payload));
        }
    }

    /// <summary>Keeps requests and answers them later from another thread, inside one batch.</summary>
    private sealed class DeferredReplies : IDatagramHandler
    {
        private readonly List<(DatagramRequest Request, string Text)> _held = new();
        private readonly TaskCompletionSource _received = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Received => _received.Task;

        public bool AllQueued { get; private set; }

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            lock (_held)
            {
                _held.Add((request, Encoding.ASCII.GetString(payload)));
                if (_held.Count == 10)
                {
                    _received.TrySetResult();
                }
            }
        }

        public void AnswerAllInOneBatch()
        {
            bool queued = true;
            using (DatagramBatch.Open())
            {
                lock (_held)
                {
                    foreach ((DatagramRequest request, string text) in _held)
                    {
                        request.Reply(Encoding.ASCII.GetBytes($"answer {text}"));
                    }

                    queued = UdpReplyBatch.Current.Count == _held.Count;
                }
            }

            AllQueued = queued && UdpReplyBatch.Current.Count == 0;
        }
    }
}
