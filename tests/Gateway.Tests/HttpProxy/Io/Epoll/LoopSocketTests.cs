using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.HttpProxy.Io.Epoll;

/// <summary>
/// <see cref="LoopSocket"/> over real loopback TCP connections: what arrives, on which thread the waiting code
/// continues, back-pressure, connect results, abort and the loop's end.
/// </summary>
public sealed class LoopSocketTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly EpollLoopGroup _loops = new("test");

    public LoopSocketTests()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
    }

    private IPEndPoint ListenerEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public void Dispose()
    {
        _loops.Dispose();
        _listener.Dispose();
    }

    [Fact]
    public Task ReceiveAsync_NothingYet_CompletesOnTheLoopThreadWithTheBytes() => WithPairAsync(async (client, loopSocket) =>
    {
        byte[] buffer = new byte[16];

        Task<(int Received, bool OnLoop)> receive = ReceiveAndTellThreadAsync(loopSocket, buffer);
        Assert.False(receive.IsCompleted);
        client.Send("hello"u8);

        (int received, bool onLoop) = await receive.WaitAsync(Deadline);
        Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(buffer, 0, received));
        Assert.True(onLoop);
    });

    private static async Task<(int Received, bool OnLoop)> ReceiveAndTellThreadAsync(LoopSocket socket, byte[] buffer)
    {
        int received = await socket.ReceiveAsync(buffer).ConfigureAwait(false);
        return (received, EpollLoop.OnLoopThread);
    }

    [Fact]
    public Task ReceiveAsync_PeerClosed_ReturnsZero() => WithPairAsync(async (client, loopSocket) =>
    {
        ValueTask<int> receive = loopSocket.ReceiveAsync(new byte[16]);
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal(0, await receive.AsTask().WaitAsync(Deadline));
    });

    /// <summary>
    /// Data and the FIN queued together, their event handled before the first receive: the data, then 0 — not a
    /// receive parked for an event that already came (a SOCKS tunnel stalled so at the end of a download).
    /// </summary>
    [Fact]
    public Task ReceiveAsync_DataAndFinArrivedTogether_ReturnsTheDataThenZero() => WithPairAsync(async (client, loopSocket) =>
    {
        int before = loopSocket.ReadEvents;
        client.Send("last bytes"u8);
        client.Shutdown(SocketShutdown.Send);
        long deadline = Environment.TickCount64 + (long)Deadline.TotalMilliseconds;
        while (loopSocket.ReadEvents == before && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10);
        }

        byte[] buffer = new byte[64];
        int received = await loopSocket.ReceiveAsync(buffer).AsTask().WaitAsync(Deadline);
        Assert.Equal("last bytes", System.Text.Encoding.ASCII.GetString(buffer, 0, received));
        Assert.Equal(0, await loopSocket.ReceiveAsync(buffer).AsTask().WaitAsync(Deadline));
    });

    [Fact]
    public Task SendAsync_MoreThanTheSocketBuffers_CompletesOnceThePeerReadsEverything() => WithPairAsync(async (client, loopSocket) =>
    {
        byte[] data = new byte[16 << 20];
        Random.Shared.NextBytes(data);

        Task send = loopSocket.SendAsync(data).AsTask();
        // 16 MiB does not fit in loopback's socket buffers: the send waits for room (EPOLLOUT) at least once.
        Assert.False(send.IsCompleted);
        byte[] received = new byte[data.Length];
        int total = 0;
        while (total < received.Length)
        {
            total += await client.ReceiveAsync(received.AsMemory(total)).AsTask().WaitAsync(Deadline);
        }

        await send.WaitAsync(Deadline);
        Assert.Equal(data, received);
    });

    [Fact]
    public async Task ConnectAsync_Listening_ConnectsAndReportsTheLocalEndPoint()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return; // Linux only: elsewhere SOCKS runs on System.Net.Sockets.
        }

        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        EpollNative.SetNonBlocking(socket);
        using LoopSocket loopSocket = _loops.Next()!.Add(socket, register: false);

        await loopSocket.ConnectAsync(ListenerEndPoint.Serialize()).AsTask().WaitAsync(Deadline);
        using Socket accepted = await _listener.AcceptAsync().WaitAsync(Deadline);

        Assert.Equal(accepted.RemoteEndPoint, loopSocket.LocalEndPoint(AddressFamily.InterNetwork));
        await loopSocket.SendAsync("ping"u8.ToArray());
        byte[] buffer = new byte[4];
        Assert.Equal(4, await accepted.ReceiveAsync(buffer).WaitAsync(Deadline));
    }

    [Fact]
    public async Task ConnectAsync_NothingListening_FailsWithConnectionRefused()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return; // Linux only: elsewhere SOCKS runs on System.Net.Sockets.
        }

        IPEndPoint closed = ListenerEndPoint;
        _listener.Close();
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        EpollNative.SetNonBlocking(socket);
        using LoopSocket loopSocket = _loops.Next()!.Add(socket, register: false);

        SocketException e = await Assert.ThrowsAsync<SocketException>(() => loopSocket.ConnectAsync(closed.Serialize()).AsTask().WaitAsync(Deadline));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Fact]
    public Task Abort_WhileReceiving_FailsTheReceiveAndEveryLaterOne() => WithPairAsync(async (_, loopSocket) =>
    {
        ValueTask<int> receive = loopSocket.ReceiveAsync(new byte[16]);

        loopSocket.Abort();

        await Assert.ThrowsAsync<OperationCanceledException>(() => receive.AsTask().WaitAsync(Deadline));
        await Assert.ThrowsAsync<OperationCanceledException>(() => loopSocket.ReceiveAsync(new byte[16]).AsTask());
    });

    /// <summary>
    /// A deadline's timer aborts: the waiting code must not continue in the timer's thread (an HTTP session would
    /// then write its error answer there).
    /// </summary>
    [Fact]
    public Task Abort_WhileReceiving_TheWaitingCodeContinuesOffTheAbortingThread() => WithPairAsync(async (_, loopSocket) =>
    {
        Task<int> continuedOn = ThreadAfterReceiveAsync(loopSocket);
        int abortingThread = 0;
        var aborter = new Thread(() =>
        {
            abortingThread = Environment.CurrentManagedThreadId;
            loopSocket.Abort();
        });

        aborter.Start();
        Assert.True(aborter.Join(Deadline));
        Assert.NotEqual(abortingThread, await continuedOn.WaitAsync(Deadline));
    });

    private static async Task<int> ThreadAfterReceiveAsync(LoopSocket socket)
    {
        try
        {
            await socket.ReceiveAsync(new byte[16]).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected: aborted.
        }

        return Environment.CurrentManagedThreadId;
    }

    [Fact]
    public Task Resume_AfterAbort_LaterOperationsRunAgain() => WithPairAsync(async (client, loopSocket) =>
    {
        loopSocket.Abort();
        await Assert.ThrowsAsync<OperationCanceledException>(() => loopSocket.SendAsync("lost"u8.ToArray()).AsTask());
        Assert.True(loopSocket.IsAborted);

        loopSocket.Resume();
        await loopSocket.SendAsync("408"u8.ToArray()).AsTask().WaitAsync(Deadline);

        Assert.False(loopSocket.IsAborted);
        byte[] buffer = new byte[16];
        int received = await client.ReceiveAsync(buffer).WaitAsync(Deadline);
        Assert.Equal("408", System.Text.Encoding.ASCII.GetString(buffer, 0, received));
    });

    [Fact]
    public Task LeaveAsync_OnTheLoopThread_ContinuesOnTheThreadPool_ElsewhereAtOnce() => WithPairAsync(async (client, loopSocket) =>
    {
        Assert.True(EpollLoop.LeaveAsync().IsCompletedSuccessfully);
        Task<(bool Before, bool After)> left = LeaveAfterReceiveAsync(loopSocket);
        client.Send("x"u8);

        (bool before, bool after) = await left.WaitAsync(Deadline);
        Assert.True(before);
        Assert.False(after);
    });

    private static async Task<(bool Before, bool After)> LeaveAfterReceiveAsync(LoopSocket socket)
    {
        await socket.ReceiveAsync(new byte[16]).ConfigureAwait(false);
        bool before = EpollLoop.OnLoopThread;
        await EpollLoop.LeaveAsync().ConfigureAwait(false);
        return (before, EpollLoop.OnLoopThread);
    }

    /// <summary>An HTTP response through <see cref="SocketWriter"/> on the loop: a gathered head, then a body larger than its buffer.</summary>
    [Fact]
    public Task SocketWriter_OnTheLoop_SendsGatheredAndLargePieces_CountsThem() => WithPairAsync(async (client, server, loopSocket) =>
    {
        byte[] body = new byte[4 << 20];
        Random.Shared.NextBytes(body);
        using var writer = new SocketWriter(server, 1024) { Loop = loopSocket };
        writer.Write("head\r\n"u8);

        Task<byte[]> received = ReceiveExactlyAsync(client, 6 + body.Length);
        await writer.WriteAsync(body, CancellationToken.None);
        await writer.FlushAsync(CancellationToken.None);

        byte[] all = await received.WaitAsync(Deadline);
        Assert.Equal("head\r\n"u8.ToArray(), all[..6]);
        Assert.Equal(body, all[6..]);
        Assert.Equal(6 + body.Length, writer.BytesSent);
    });

    /// <summary>
    /// A pooled origin connection on a loop: the deadline of the session holding it aborts its waits (its reads ignore
    /// tokens), the next holder's deadline no longer reaches it once it is unbound, and an aborted one is not reusable.
    /// </summary>
    [Fact]
    public Task OriginConnection_Bound_DeadlineAbortsItsReceive_Unbound_DoesNot() => WithPairAsync(async (client, server, loopSocket) =>
    {
        using var connection = new OriginConnection(server, NetAddress.FromIPAddress(IPAddress.Loopback), "origin:80", 1024, loop: loopSocket);
        using (var first = new CancellationTokenSource())
        {
            connection.Bind(first.Token);
            connection.Unbind();
            ValueTask<int> waiting = connection.Reader.FillAsync(CancellationToken.None);
            first.Cancel();
            Assert.False(waiting.IsCompleted);
            client.Send("HTTP/1.1"u8);
            Assert.Equal(8, await waiting.AsTask().WaitAsync(Deadline));
            connection.Reader.Consume(8);
            Assert.True(connection.IsUsable());
        }

        using var second = new CancellationTokenSource();
        connection.Bind(second.Token);
        ValueTask<int> receive = connection.Reader.FillAsync(CancellationToken.None);
        second.Cancel();

        await Assert.ThrowsAsync<OperationCanceledException>(() => receive.AsTask().WaitAsync(Deadline));
        Assert.False(connection.IsUsable());
    }, disposeLoopSocket: false);

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int length)
    {
        byte[] buffer = new byte[length];
        int total = 0;
        while (total < length)
        {
            int received = await socket.ReceiveAsync(buffer.AsMemory(total));
            Assert.NotEqual(0, received);
            total += received;
        }

        return buffer;
    }

    [Fact]
    public Task GroupDispose_WhileReceiving_FailsTheReceive_AndLaterSocketsGetNoLoop() => WithPairAsync(async (_, loopSocket) =>
    {
        ValueTask<int> receive = loopSocket.ReceiveAsync(new byte[16]);

        _loops.Dispose();

        await Assert.ThrowsAsync<OperationCanceledException>(() => receive.AsTask().WaitAsync(Deadline));
        Assert.Null(_loops.Next());
    });

    [Fact]
    public async Task ManyConnections_EachEchoedOnTheLoop_AllBytesArrive()
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return; // Linux only: elsewhere SOCKS runs on System.Net.Sockets.
        }

        const int Count = 64;
        var tasks = new Task[Count];
        for (int i = 0; i < Count; i++)
        {
            (Socket client, Socket server) = await PairAsync();
            LoopSocket loopSocket = _loops.Next()!.Add(server, register: true);
            tasks[i] = EchoOnceAsync(client, server, loopSocket, (byte)i);
        }

        await Task.WhenAll(tasks).WaitAsync(Deadline);
    }

    private static async Task EchoOnceAsync(Socket client, Socket server, LoopSocket loopSocket, byte tag)
    {
        using (client)
        using (server)
        using (loopSocket)
        {
            byte[] message = new byte[1000];
            message.AsSpan().Fill(tag);
            await client.SendAsync(message);
            byte[] buffer = new byte[message.Length];
            int total = 0;
            while (total < buffer.Length)
            {
                int received = await loopSocket.ReceiveAsync(buffer.AsMemory(total));
                Assert.NotEqual(0, received);
                total += received;
            }

            await loopSocket.SendAsync(buffer);
            byte[] echoed = new byte[message.Length];
            total = 0;
            while (total < echoed.Length)
            {
                total += await client.ReceiveAsync(echoed.AsMemory(total));
            }

            Assert.Equal(message, echoed);
        }
    }

    /// <summary>Runs <paramref name="body"/> with a connected client and the server side on a loop (Linux only: elsewhere SOCKS runs on System.Net.Sockets).</summary>
    private Task WithPairAsync(Func<Socket, LoopSocket, Task> body) => WithPairAsync((client, _, loopSocket) => body(client, loopSocket));

    /// <summary>The same with the server side's socket too; <paramref name="disposeLoopSocket"/> false when the body's own owner of it disposes it.</summary>
    private async Task WithPairAsync(Func<Socket, Socket, LoopSocket, Task> body, bool disposeLoopSocket = true)
    {
        if (!EpollLoopGroup.IsSupported)
        {
            return;
        }

        (Socket client, Socket server) = await PairAsync();
        using (client)
        using (server)
        {
            LoopSocket? loopSocket = _loops.Next()?.Add(server, register: true);
            Assert.NotNull(loopSocket);
            try
            {
                await body(client, server, loopSocket);
            }
            finally
            {
                if (disposeLoopSocket)
                {
                    loopSocket.Dispose();
                }
            }
        }
    }

    private async Task<(Socket Client, Socket Server)> PairAsync()
    {
        Socket client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(ListenerEndPoint);
        Socket server = await _listener.AcceptAsync();
        return (client, server);
    }
}
