// Linked into http-proxy and dns-dot, in each one's namespace: see EpollLoop.cs.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

#if GATEWAY_DNSDOT
namespace Gateway.Plugins.DnsDot.Server.Epoll;
#else
namespace Gateway.Plugins.HttpProxy.Io.Epoll;
#endif

/// <summary>
/// A connected TCP socket served by an <see cref="EpollLoop"/>: receives, sends and a connect that complete on the
/// loop's thread and run their continuation right there, where System.Net.Sockets hands every completion from its
/// epoll thread to a thread-pool thread (one context switch per wait; BENCHMARKS.md "SOCKS5 on the plugin's own epoll
/// loop"). An operation first tries the call (MSG_DONTWAIT, so the descriptor's own blocking mode is left alone: no
/// fcntl) unless the socket is known drained, and waits for the loop's edge-triggered event only when the kernel has
/// nothing yet. One receive and one send may be outstanding at a time, from any thread.
/// </summary>
/// <remarks>
/// The owner keeps the <see cref="Socket"/> and closes it after disposing this. Cancellation is
/// <see cref="Abort"/> (timeouts and stop are the session's cancellation source calling it): waiting operations fail
/// with <see cref="OperationCanceledException"/>, as System.Net.Sockets' operations do when their token fires.
/// </remarks>
internal sealed unsafe class LoopSocket : IDisposable
{
    private readonly EpollLoop _loop;
    private readonly SafeSocketHandle _handle;
    private readonly int _fd;
    private readonly Operation _read;
    private readonly Operation _write;
    private bool _released;
    private volatile bool _aborted;
    private int _attached;

    public LoopSocket(EpollLoop loop, Socket socket, ulong token)
    {
        _loop = loop;
        Token = token;
        _handle = socket.SafeHandle;
        bool added = false;
        // Held until Dispose: a socket closed by someone else meanwhile (the host at the end of its stop grace) keeps
        // its descriptor number until no raw call can use it.
        _handle.DangerousAddRef(ref added);
        _fd = (int)_handle.DangerousGetHandle();
        _read = new Operation(this);
        _write = new Operation(this);
    }

    /// <summary>The epoll data of this socket's registration: slot and generation in the loop's table.</summary>
    public ulong Token { get; }

    /// <summary>The descriptor (valid while this object is not disposed).</summary>
    public int Descriptor => _fd;

    /// <summary>Read events the loop has handled for this socket (tests wait on it).</summary>
    internal int ReadEvents => Volatile.Read(ref _read.Events);

    /// <summary>The loop this socket is served by.</summary>
    public EpollLoop Loop => _loop;

    /// <summary>Registers the descriptor with the loop (once).</summary>
    public void Attach()
    {
        ObjectDisposedException.ThrowIf(_loop.Stopped, _loop);
        if (Interlocked.Exchange(ref _attached, 1) == 0 && EpollNative.Add(_loop.Descriptor, _fd, Token) != 0)
        {
            throw new SocketException((int)EpollNative.ToSocketError(Marshal.GetLastPInvokeError()));
        }
    }

    /// <summary>The callback for a cancellation registration: <c>token.UnsafeRegister(LoopSocket.AbortCallback, socket)</c>.</summary>
    public static readonly Action<object?> AbortCallback = static state => ((LoopSocket)state!).Abort();

    /// <summary>Receives into <paramref name="buffer"/>; 0 when the peer closed its side.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer)
    {
        Operation op = _read;
        while (true)
        {
            if (_aborted)
            {
                return ValueTask.FromException<int>(new OperationCanceledException());
            }

            int seq = Volatile.Read(ref op.Events);
            if (seq != op.DrainedAt)
            {
                long received = TryReceive(buffer.Span);
                if (received != -EpollNative.EAgain)
                {
                    // A short read is no proof the queue is empty: the peer's FIN may wait behind the data, its event
                    // counted already (a receive parked on that would never wake). Only EAGAIN is.
                    return received >= 0 ? new ValueTask<int>((int)received) : ValueTask.FromException<int>(Error((int)-received));
                }

                // Nothing until the next event: a later receive parks without another recv that fails.
                op.DrainedAt = seq;
            }

            if (op.TryPark(seq, OperationKind.Receive, buffer))
            {
                return new ValueTask<int>(op, op.Version);
            }
        }
    }

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data)
    {
        Operation op = _write;
        while (true)
        {
            if (_aborted)
            {
                return ValueTask.FromException(new OperationCanceledException());
            }

            int seq = Volatile.Read(ref op.Events);
            while (!data.IsEmpty)
            {
                long sent = TrySend(data.Span);
                if (sent == -EpollNative.EAgain)
                {
                    break;
                }

                if (sent < 0)
                {
                    return ValueTask.FromException(Error((int)-sent));
                }

                data = data[(int)sent..];
            }

            if (data.IsEmpty)
            {
                return ValueTask.CompletedTask;
            }

            if (op.TryPark(seq, OperationKind.Send, MemoryMarshal.AsMemory(data)))
            {
                return new ValueTask(op, op.Version);
            }
        }
    }

    /// <summary>
    /// Connects (the socket must be non-blocking and not yet registered; it is registered here, after connect(2)
    /// started: a registered unconnected socket reports writable at once).
    /// </summary>
    public ValueTask ConnectAsync(SocketAddress address)
    {
        int result;
        fixed (byte* sockaddr = address.Buffer.Span)
        {
            result = EpollNative.Connect(_fd, sockaddr, (uint)address.Size);
        }

        int errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
        if (errno != 0 && errno != EpollNative.EInProgress)
        {
            return ValueTask.FromException(Error(errno));
        }

        // Registered only now, the socket can have received nothing the loop will not report: the first receive
        // waits for an event rather than trying a recv (an origin rarely speaks before it is spoken to).
        _read.DrainedAt = Volatile.Read(ref _read.Events);
        Operation op = _write;
        if (!op.Park(OperationKind.Connect))
        {
            op.Cancel();
            return new ValueTask(op, op.Version);
        }

        try
        {
            Attach();
        }
        catch (SocketException e)
        {
            op.Fail(e);
        }

        return new ValueTask(op, op.Version);
    }

    /// <summary>This side's address after a connect (getsockname(2)).</summary>
    public IPEndPoint LocalEndPoint(AddressFamily family)
    {
        byte* sockaddr = stackalloc byte[28];
        uint length = 28;
        if (EpollNative.GetSockName(_fd, sockaddr, &length) != 0)
        {
            throw Error(Marshal.GetLastPInvokeError());
        }

        int port = (sockaddr[2] << 8) | sockaddr[3];
        return family == AddressFamily.InterNetworkV6
            ? new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(sockaddr + 8, 16)), port)
            : new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(sockaddr + 4, 4)), port);
    }

    /// <summary>
    /// Ends every waiting and later operation with <see cref="OperationCanceledException"/>. The waiting operations'
    /// continuations run on the thread pool, not in the caller (a timer's thread, or the cancellation of a token).
    /// </summary>
    public void Abort()
    {
        _aborted = true;
        _read.Cancel();
        _write.Cancel();
    }

    /// <summary>
    /// Resets the connection at once (an RST; unsent data is dropped) and ends every operation, without closing the
    /// descriptor: connect(2) to AF_UNSPEC disconnects a TCP socket (tcp_disconnect). Closing the <see cref="Socket"/>
    /// instead would wait, spinning, for this object to release the handle, which on the loop's thread never happens.
    /// </summary>
    public void Reset()
    {
        Abort();
        if (!_released)
        {
            byte* unspecified = stackalloc byte[16];
            new Span<byte>(unspecified, 16).Clear();
            EpollNative.Connect(_fd, unspecified, 16);
        }
    }

    /// <summary>
    /// Ends the waiting receive, if any, with <see cref="OperationCanceledException"/> (its continuation on the thread
    /// pool), and nothing else: a read timeout that must not fail the sends still under way. Later receives run.
    /// </summary>
    public void CancelReceive() => _read.Cancel();

    /// <summary>Ends the waiting send, if any, with <see cref="OperationCanceledException"/>, and nothing else.</summary>
    public void CancelSend() => _write.Cancel();

    /// <summary>True once <see cref="Abort"/> was called (and not undone by <see cref="Resume"/>).</summary>
    public bool IsAborted => _aborted;

    /// <summary>
    /// Undoes <see cref="Abort"/> for the operations that follow, when the owner still has something to say after its
    /// deadline fired (an HTTP 408 or 504) and bounds that by another abort of its own. No operation may be waiting.
    /// </summary>
    public void Resume()
    {
        if (!_released)
        {
            _aborted = false;
        }
    }

    /// <summary>
    /// Takes the descriptor off the loop (epoll_ctl DEL) so that System.Net.Sockets can serve the socket from here on
    /// (a tunnel through a parent proxy relays on .NET sockets). No operation may be outstanding.
    /// </summary>
    public void Detach()
    {
        if (Interlocked.Exchange(ref _attached, 0) == 1 && !_loop.Stopped)
        {
            EpollNative.EpollCtl(_loop.Descriptor, EpollNative.EpollCtlDel, _fd, null);
        }

        Dispose();
    }

    /// <summary>Leaves the loop's table (a later event for the descriptor is ignored) and releases the descriptor.</summary>
    public void Dispose()
    {
        if (_released)
        {
            return;
        }

        _released = true;
        _aborted = true;
        _loop.Remove(this);
        _handle.DangerousRelease();
    }

    /// <summary>Called on the loop's thread for this socket's events.</summary>
    internal void OnEvents(uint events)
    {
        // An error or hang-up wakes both sides: their retried call reports it.
        if ((events & (EpollNative.EpollIn | EpollNative.EpollRdHup | EpollNative.EpollErr | EpollNative.EpollHup)) != 0)
        {
            _read.OnReady(events);
        }

        if ((events & (EpollNative.EpollOut | EpollNative.EpollErr | EpollNative.EpollHup)) != 0)
        {
            _write.OnReady(events);
        }
    }

    private long TryReceive(Span<byte> buffer)
    {
        nint received;
        fixed (byte* p = buffer)
        {
            received = EpollNative.Recv(_fd, p, (nuint)buffer.Length, EpollNative.MsgDontWait);
        }

        return received >= 0 ? received : -Errno();
    }

    private long TrySend(ReadOnlySpan<byte> data)
    {
        nint sent;
        fixed (byte* p = data)
        {
            sent = EpollNative.Send(_fd, p, (nuint)data.Length, EpollNative.MsgDontWait | EpollNative.MsgNoSignal);
        }

        return sent >= 0 ? sent : -Errno();
    }

    private static int Errno()
    {
        int errno = Marshal.GetLastPInvokeError();
        return errno == EpollNative.EIntr ? EpollNative.EAgain : errno;
    }

    private static SocketException Error(int errno) => new((int)EpollNative.ToSocketError(errno));

    private enum OperationKind
    {
        Receive,
        Send,
        Connect,
    }

    /// <summary>
    /// One direction's waiting operation and readiness count. <see cref="Events"/> counts the loop's events for the
    /// direction: an operation parks only if none came since it last tried (under the lock), so an edge between
    /// its call and its parking is never lost.
    /// </summary>
    private sealed class Operation : IValueTaskSource<int>, IValueTaskSource
    {
        private readonly LoopSocket _owner;
        private ManualResetValueTaskSourceCore<int> _core;   // continuations run inline: on the loop's thread
        private OperationKind _kind;
        private Memory<byte> _buffer;
        private bool _waiting;
        private int _sent;

        public int Events;
        public int DrainedAt = -1;

        public Operation(LoopSocket owner) => _owner = owner;

        public short Version => _core.Version;

        /// <summary>Parks unless an event came after <paramref name="seq"/> was read (then the caller tries again).</summary>
        public bool TryPark(int seq, OperationKind kind, Memory<byte> buffer)
        {
            lock (this)
            {
                if (Events != seq || _owner._aborted)
                {
                    // An event came since (try the call again), or an abort (the caller's loop reports it).
                    return false;
                }

                Arm(kind, buffer);
                return true;
            }
        }

        /// <summary>Parks unconditionally (a connect in progress completes only by an event); false when aborted.</summary>
        public bool Park(OperationKind kind)
        {
            lock (this)
            {
                Arm(kind, Memory<byte>.Empty);
                return !_owner._aborted;
            }
        }

        private void Arm(OperationKind kind, Memory<byte> buffer)
        {
            _core.Reset();
            _core.RunContinuationsAsynchronously = false;
            _kind = kind;
            _buffer = buffer;
            _sent = 0;
            _waiting = true;
        }

        /// <summary>On the loop: an event for this direction; completes the waiting operation if the call now succeeds.</summary>
        public void OnReady(uint events)
        {
            long result;
            lock (this)
            {
                Events++;
                if (!_waiting)
                {
                    return;
                }

                result = _kind switch
                {
                    OperationKind.Receive => _owner.TryReceive(_buffer.Span),
                    OperationKind.Send => ContinueSend(),
                    _ => ConnectResult(events),
                };
                if (result == -EpollNative.EAgain)
                {
                    return;
                }

                _waiting = false;
                _buffer = default;
            }

            Complete(result >= 0 ? (int)result : 0, result >= 0 ? null : Error((int)-result));
        }

        public void Cancel() => Fail(new OperationCanceledException());

        /// <summary>Ends the waiting operation, if any, with <paramref name="error"/>.</summary>
        public void Fail(Exception error)
        {
            lock (this)
            {
                if (!_waiting)
                {
                    return;
                }

                _waiting = false;
                _buffer = default;
                // Not on the loop's thread: whoever fails it (a deadline's timer) must not run the session's code.
                _core.RunContinuationsAsynchronously = true;
            }

            Complete(0, error);
        }

        private void Complete(int result, Exception? error)
        {
            if (error is null)
            {
                _core.SetResult(result);
            }
            else
            {
                _core.SetException(error);
            }
        }

        private long ContinueSend()
        {
            while (_sent < _buffer.Length)
            {
                long sent = _owner.TrySend(_buffer.Span[_sent..]);
                if (sent < 0)
                {
                    return sent;
                }

                _sent += (int)sent;
            }

            return _sent;
        }

        private long ConnectResult(uint events)
        {
            if ((events & (EpollNative.EpollErr | EpollNative.EpollHup)) == 0)
            {
                // Writable with no error or hang-up: connected (a failed connect reports EPOLLERR), no SO_ERROR call.
                return 0;
            }

            int error = 0;
            uint length = sizeof(int);
            if (EpollNative.GetSockOpt(_owner._fd, EpollNative.SolSocket, EpollNative.SoError, &error, &length) != 0)
            {
                return -Marshal.GetLastPInvokeError();
            }

            return error == 0 ? 0 : -error;
        }

        public int GetResult(short token) => _core.GetResult(token);

        void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
