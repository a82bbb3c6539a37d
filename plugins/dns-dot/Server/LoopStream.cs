using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Gateway.Plugins.DnsDot.Server.Epoll;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// A client connection served by one of the plugin's epoll loops, as a <see cref="Stream"/> for
/// <see cref="StreamSession"/> and the <see cref="System.Net.Security.SslStream"/> of DoT: reads and writes are
/// <see cref="LoopSocket"/>'s receives and sends, so a read's continuation (the session's parsing, a cache answer, its
/// encryption and send) runs on the loop's thread instead of hopping from the runtime's epoll thread to the thread pool.
/// </summary>
/// <remarks>
/// <para>
/// One read may be outstanding at a time; writes may come from two places at once and are sent one after the other,
/// each whole, in the order they were called. <see cref="LoopSocket"/> allows one send at a time, while an
/// <see cref="System.Net.Security.SslStream"/> may write to its inner stream from its read path: when the platform
/// reports a renegotiation its ReadAsync answers through the inner stream (ReplyOnReAuthenticationAsync), perhaps while
/// the session's writer (on an upstream's reader thread for forwarded answers) is in the middle of a send. Two sends on
/// the socket at once would interleave their bytes, or fail the loop's parked send. On Linux with OpenSSL 3 that read
/// path does not write today (a TLS 1.2 renegotiation is refused, ending the connection; the reply to a TLS 1.3
/// KeyUpdate goes out with the next write, OpenSSL's deferral), so the turn below is a guard against the stream's
/// contract, which allows it, rather than the fix of a path seen to run.
/// </para>
/// <para>
/// The turn costs an uncontended write two compare-exchanges on one field (take and give back), no allocation and
/// no lock; only a write that finds another under way queues, with a task of its own, and is handed the turn in
/// order. Our own rather than a <see cref="SemaphoreSlim"/> of one (<c>Wait(0)</c>, <c>WaitAsync</c>, <c>Release</c>:
/// the same behaviour, all tests green): on every DoT and TCP answer's path the semaphore measured 1.17–1.20× the bare
/// send, this turn 0.80–0.97× (LoopStreamBenchmarks, 3 runs each, BENCHMARKS.md "LoopStream's write turn"). A cancellation token ends only its own wait: the read timeout cancels the waiting receive
/// (<see cref="LoopSocket.CancelReceive"/>), not a write still under way, as with a NetworkStream; a write's token
/// ends its send, or its wait for the turn. An abort (<see cref="LoopSocket.Abort"/>, <see cref="LoopSocket.Reset"/>)
/// fails the send under way, and each queued write in turn then fails at once. Disposing does not close the socket or
/// take it off the loop: the handler owns both.
/// </para>
/// </remarks>
internal sealed class LoopStream : Stream
{
    private static readonly Action<object?> CancelReceiveCallback = static state => ((LoopSocket)state!).CancelReceive();
    private static readonly Action<object?> CancelSendCallback = static state => ((LoopSocket)state!).CancelSend();

    // The write turn: Free, Taken (a write under way, none waiting) or Queued (a write under way, others wait in
    // _waiters, never empty then). Free to Taken and back are compare-exchanges without the lock; Queued is entered
    // and left only under the lock.
    private const int Free = 0;
    private const int Taken = 1;
    private const int Queued = 2;

    private readonly LoopSocket _socket;
    private readonly LinkedList<TurnWaiter> _waiters = new();
    private int _turn;

    public LoopStream(LoopSocket socket) => _socket = socket;

    /// <summary>
    /// The session's abort for an offender: an RST now. On a loop that is <see cref="LoopSocket.Reset"/> (the socket
    /// is closed later, by the host, once the handler has taken it off the loop: disposing it while the loop holds its
    /// handle would block the loop's thread until then).
    /// </summary>
    public static Action ResetAction(Socket socket, LoopSocket? loop) => loop is null ? () => ConnectionReset.Reset(socket) : loop.Reset;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ValueTask<int> receive = _socket.ReceiveAsync(buffer);
        return receive.IsCompleted || !cancellationToken.CanBeCanceled ? receive : ReceiveCancellableAsync(receive, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (Interlocked.CompareExchange(ref _turn, Taken, Free) != Free)
        {
            return WriteQueuedAsync(buffer, cancellationToken);
        }

        ValueTask send = _socket.SendAsync(buffer);
        if (send.IsCompleted)
        {
            EndTurn();
            return send;
        }

        return SendAndEndTurnAsync(send, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    // Synchronous calls would block a loop's thread: nothing here makes them (SslStream and the session are async).
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    // The receive is parked before the registration: a token that fired already runs the callback here, one that fires
    // later finds the receive waiting. Either way the wait ends.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveCancellableAsync(ValueTask<int> receive, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(CancelReceiveCallback, _socket))
        {
            return await receive.ConfigureAwait(false);
        }
    }

    // The turn is this write's: the socket's waiting send is this one, so the token may cancel it.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendAndEndTurnAsync(ValueTask send, CancellationToken cancellationToken)
    {
        try
        {
            using (cancellationToken.UnsafeRegister(CancelSendCallback, _socket))
            {
                await send.ConfigureAwait(false);
            }
        }
        finally
        {
            EndTurn();
        }
    }

    // Another write is under way: wait for the turn (the token ends the wait), then send.
    private async ValueTask WriteQueuedAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        TurnWaiter? waiter = null;
        lock (_waiters)
        {
            // Outside the lock the turn only moves between Free and Taken, so each step here is a compare-exchange: once
            // Queued, the writer under way finds it so when it ends and hands the turn over under this lock.
            while (true)
            {
                int turn = Volatile.Read(ref _turn);
                if (turn == Free && Interlocked.CompareExchange(ref _turn, Taken, Free) == Free)
                {
                    break;
                }

                if (turn == Queued || (turn == Taken && Interlocked.CompareExchange(ref _turn, Queued, Taken) == Taken))
                {
                    waiter = new TurnWaiter(this);
                    waiter.Node = _waiters.AddLast(waiter);
                    break;
                }
            }
        }

        if (waiter is not null)
        {
            if (cancellationToken.CanBeCanceled)
            {
                waiter.Registration = cancellationToken.UnsafeRegister(static (state, token) => ((TurnWaiter)state!).Cancel(token), waiter);
            }

            try
            {
                await waiter.Task.ConfigureAwait(false);
            }
            finally
            {
                waiter.Registration.Dispose();
            }
        }

        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            ValueTask send = _socket.SendAsync(buffer);
            if (send.IsCompleted || !cancellationToken.CanBeCanceled)
            {
                await send.ConfigureAwait(false);
            }
            else
            {
                using (cancellationToken.UnsafeRegister(CancelSendCallback, _socket))
                {
                    await send.ConfigureAwait(false);
                }
            }
        }
        finally
        {
            EndTurn();
        }
    }

    // Gives the turn back, or to the first queued write.
    private void EndTurn()
    {
        if (Interlocked.CompareExchange(ref _turn, Free, Taken) == Taken)
        {
            return;
        }

        TurnWaiter next;
        lock (_waiters)
        {
            // Queued: the list holds a waiter (a cancelled one leaves it under the lock, and Queued with it when last).
            // The turn passes straight to it: a write arriving meanwhile finds the turn taken and queues behind.
            next = _waiters.First!.Value;
            _waiters.RemoveFirst();
            next.Node = null;
            if (_waiters.Count == 0)
            {
                Volatile.Write(ref _turn, Taken);
            }
        }

        // Its continuation runs on the thread pool (the task's option): not inside this write's completion.
        next.TrySetResult();
    }

    // The token of a queued write fired: it leaves the queue, unless it was handed the turn already (then the write
    // goes on, finds its token cancelled and gives the turn back).
    private void CancelWait(TurnWaiter waiter, CancellationToken token)
    {
        lock (_waiters)
        {
            if (waiter.Node is null)
            {
                return;
            }

            _waiters.Remove(waiter.Node);
            waiter.Node = null;
            if (_waiters.Count == 0)
            {
                Volatile.Write(ref _turn, Taken);
            }
        }

        waiter.TrySetCanceled(token);
    }

    /// <summary>A write waiting for the turn; its task completes when the turn is handed to it.</summary>
    private sealed class TurnWaiter : TaskCompletionSource
    {
        private readonly LoopStream _owner;

        public TurnWaiter(LoopStream owner)
            : base(TaskCreationOptions.RunContinuationsAsynchronously) => _owner = owner;

        /// <summary>Its place in the queue; null once it left (handed the turn, or cancelled).</summary>
        public LinkedListNode<TurnWaiter>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }

        public void Cancel(CancellationToken token) => _owner.CancelWait(this, token);
    }
}
