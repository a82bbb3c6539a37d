using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// One TLS (DoT) or plain TCP connection to an upstream carrying many queries at once (RFC 7858 §3.3, RFC 7766 §6.2.1.1):
/// each query gets a connection-unique id, answers are matched by (id, name, type) in whatever order
/// they arrive.
/// </summary>
/// <remarks>
/// Queries are appended to a write buffer and written by the thread that queued them when no write is in
/// progress; queries queued while a write is in flight go out with the next write (one TLS record, one send),
/// and the pool's queue is drained in one write. One dedicated read thread per connection blocks in the TLS
/// read, matches each answer and hands it to the resolver in place in the read buffer: the client is answered
/// from there with no copy. Neither direction hops through the thread pool: on this path context switches,
/// not instructions, were the cost (profiled: six switches per query with thread-pool read loops and write
/// work items). Timeouts are checked by <see cref="Sweep"/>, not per query.
/// </remarks>
internal sealed class UpstreamConnection : IDatagramBatchParticipant
{
    // Room for the largest message (RFC 1035 §4.2.2: 2-byte length) plus what arrives behind it.
    private const int ReadBufferSize = 2 + ushort.MaxValue + 16384;
    private const int InitialWriteBufferSize = 16384;

    // How long the read loop waits for the upstream with queries in flight before it acknowledges what it has
    // (see SendPendingAck): longer than our next write usually takes to carry the ACK, far below the 40 ms timer.
    private const int AckWaitMicroseconds = 1000;

    private static readonly byte[] AckNowKeepDelayed = [2, 0, 0, 0];

    private readonly UpstreamConnectionPool _pool;
    private readonly DnsUpstream _upstream;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly Lock _sync = new();
    private readonly Dictionary<ushort, UpstreamQuery> _pending = new();
    private byte[] _writeBuffer = new byte[InitialWriteBufferSize];
    private byte[] _spareBuffer = new byte[InitialWriteBufferSize];
    private int _writeLength;
    private bool _writing;
    private bool _closed;
    private int _inFlight;
    private ushort _nextId = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
    private long _lastActivity;
    private long _idleLimitTicks;
    private bool _draining;

    private UpstreamConnection(UpstreamConnectionPool pool, Socket socket, Stream stream)
    {
        _pool = pool;
        _upstream = pool.Owner;
        _socket = socket;
        _stream = stream;
        _lastActivity = Stopwatch.GetTimestamp();
        _idleLimitTicks = (long)(pool.Settings.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Queries sent on this connection and not yet answered.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>False once the connection failed, was closed by the server, or asked to be drained (keepalive 0).</summary>
    public bool IsOpen => !Volatile.Read(ref _closed) && !Volatile.Read(ref _draining);

    /// <summary>True when the connection has been idle past its limit (dotproxy's stale_timeout, RFC 7828 keepalive).</summary>
    public bool IsStale(long now) => InFlight == 0 && now - Volatile.Read(ref _lastActivity) > Volatile.Read(ref _idleLimitTicks);

    /// <summary>Opens a protected TCP connection (Fast Open where possible) and, for DoT, completes the verified TLS handshake.</summary>
    /// <remarks>
    /// Connect and handshake run synchronously on the connection's own read thread, which then stays in the
    /// read loop. The socket never sees an asynchronous operation, so it stays a blocking socket: the read
    /// thread sleeps in recv(2) itself and is woken by the kernel. (After any async operation .NET keeps the
    /// socket non-blocking and emulates blocking reads through its epoll thread: two thread wake-ups per upstream
    /// read instead of one, measured as most of the forward path's context switches.)
    /// </remarks>
    /// <exception cref="UpstreamException">Connect or handshake failed; the message says why.</exception>
    public static Task<UpstreamConnection> ConnectAsync(UpstreamConnectionPool pool, CancellationToken cancellationToken)
    {
        var opened = new TaskCompletionSource<UpstreamConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            UpstreamConnection connection;
            try
            {
                connection = Open(pool, cancellationToken);
            }
            catch (Exception e) when (e is UpstreamException or OperationCanceledException)
            {
                opened.TrySetException(e);
                return;
            }
            catch (Exception e)
            {
                // Anything else (the socket closed under us by a timeout at the wrong moment) is a failed connect.
                opened.TrySetException(new UpstreamException(e.Message, e));
                return;
            }

            opened.TrySetResult(connection);
            connection.ReadLoop();
        })
        { IsBackground = true, Name = "dns-dot upstream read" };
        thread.Start();
        return opened.Task;
    }

    private static UpstreamConnection Open(UpstreamConnectionPool pool, CancellationToken cancellationToken)
    {
        UpstreamSettings settings = pool.Settings;
        IPEndPoint endpoint = pool.Endpoint.Current ?? throw new UpstreamException($"{pool.Endpoint.Host} has no address yet (bootstrap resolution failed)");
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? stream = null;
        try
        {
            TryEnableFastOpen(socket);
            settings.ProtectSocket(socket);

            // A blocking connect has no timeout of its own: closing the socket ends it.
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connectTimeout.CancelAfter(settings.ConnectTimeout);
                using CancellationTokenRegistration abort = connectTimeout.Token.Register(static s => ((Socket)s!).Dispose(), socket);
                try
                {
                    socket.Connect(endpoint);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (connectTimeout.IsCancellationRequested)
                    {
                        throw new UpstreamException($"connect timed out after {settings.ConnectTimeout.TotalMilliseconds:0} ms");
                    }

                    throw new UpstreamException(e.Message, e);
                }
            }

            if (pool.Tls is not { } tls)
            {
                return new UpstreamConnection(pool, socket, new NetworkStream(socket, ownsSocket: false));
            }

            // The handshake's reads and writes time out through SO_RCVTIMEO/SO_SNDTIMEO (reset afterwards).
            int handshakeMs = (int)Math.Clamp(settings.HandshakeTimeout.TotalMilliseconds, 1, int.MaxValue);
            socket.ReceiveTimeout = handshakeMs;
            socket.SendTimeout = handshakeMs;
            stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            DotTlsVerifier.StrongReason reason = DotTlsVerifier.BeginHandshake();
            using (CancellationTokenRegistration abort = cancellationToken.Register(static s => ((Socket)s!).Dispose(), socket))
            {
                try
                {
                    stream.AuthenticateAsClient(tls.Options);
                }
                catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or ObjectDisposedException)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (reason.Reason is null && e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock })
                    {
                        throw new UpstreamException($"TLS handshake timed out after {settings.HandshakeTimeout.TotalMilliseconds:0} ms");
                    }

                    throw new UpstreamTlsException(reason.Reason ?? $"TLS handshake failed: {e.Message}", e);
                }
            }

            socket.ReceiveTimeout = 0;
            socket.SendTimeout = 0;
            return new UpstreamConnection(pool, socket, stream);
        }
        catch
        {
            stream?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Queues <paramref name="query"/>'s frame with a fresh connection-unique id and, when <paramref name="flush"/>,
    /// writes everything queued unless another thread is already writing (it takes these along). Inside a
    /// <see cref="DatagramBatch"/> (the queries of one client receive batch) the write waits for the batch's end,
    /// so they all leave in one TLS record.
    /// Returns false when the connection is closed or draining (the caller picks another).
    /// </summary>
    public bool TrySend(UpstreamQuery query, bool flush = true)
    {
        lock (_sync)
        {
            if (_closed || _draining)
            {
                return false;
            }

            // DnsResolver.Begin answers FORMERR to anything that would not fit: a frame is never written with a
            // length its 2-byte prefix cannot say (issue 13).
            Debug.Assert(query.FrameLength - 2 <= ushort.MaxValue, "an upstream frame longer than 65,535 bytes");
            ushort id;
            do
            {
                id = _nextId++;
            }
            while (_pending.ContainsKey(id));
            _pending.Add(id, query);
            _inFlight = _pending.Count;
            int needed = _writeLength + query.FrameLength;
            if (needed > _writeBuffer.Length)
            {
                Array.Resize(ref _writeBuffer, Math.Max(needed, _writeBuffer.Length * 2));
            }

            Span<byte> frame = _writeBuffer.AsSpan(_writeLength, query.FrameLength);
            query.Frame.AsSpan(0, query.FrameLength).CopyTo(frame);
            BinaryPrimitives.WriteUInt16BigEndian(frame[2..], id);
            _writeLength = needed;
        }

        if (flush && !DatagramBatch.Enlist(this))
        {
            Flush();
        }

        return true;
    }

    /// <inheritdoc/>
    public void FlushBatch() => Flush();

    /// <summary>Writes what is queued, unless a write is already in progress (which then writes it too).</summary>
    public void Flush()
    {
        try
        {
            while (true)
            {
                byte[] batch;
                int length;
                lock (_sync)
                {
                    if (_writing || _writeLength == 0 || _closed)
                    {
                        return;
                    }

                    _writing = true;
                    batch = _writeBuffer;
                    length = _writeLength;
                    _writeBuffer = _spareBuffer;
                    _spareBuffer = batch;
                    _writeLength = 0;
                }

                try
                {
                    _stream.Write(batch, 0, length);
                }
                finally
                {
                    lock (_sync)
                    {
                        _writing = false;
                    }
                }

                Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            _upstream.Metrics.UpstreamWriteErrors.Add(1, _upstream.Tag);
            Close($"write failed: {e.Message}");
        }
    }

    private void ReadLoop()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(ReadBufferSize);
        int start = 0;
        int end = 0;
        bool filled = false;
        string reason = "closed by the server";
        try
        {
            while (true)
            {
                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < 2 + DnsConstants.HeaderSize * 64 || (end - start >= 2 && start + 2 + BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start)) > buffer.Length))
                {
                    // Move the partial message to the front so the rest fits.
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                // The last read emptied the TLS stream's buffer unless it filled ours: then only the socket can bring more.
                if (!filled && Volatile.Read(ref _inFlight) > 0 && !_socket.Poll(AckWaitMicroseconds, SelectMode.SelectRead))
                {
                    SendPendingAck();
                }

                int room = buffer.Length - end;
                int read = _stream.Read(buffer, end, room);
                if (read == 0)
                {
                    break;
                }

                filled = read == room;

                end += read;
                Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());

                // Every answer of this read in one batch: the client replies leave in one sendmmsg where the
                // host supports it, and slots freed go to queued queries in one write.
                using DatagramBatch.Scope batch = DatagramBatch.Open();
                while (end - start >= 2)
                {
                    int length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start));
                    if (end - start - 2 < length)
                    {
                        break;
                    }

                    Deliver(buffer.AsSpan(start + 2, length));
                    start += 2 + length;
                }

                _pool.OnSlotFreed();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or NotSupportedException)
        {
            reason = e.Message;
        }

        Close(reason);
    }

    private void Deliver(Span<byte> message)
    {
        ushort id = message.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(message) : (ushort)0;
        UpstreamQuery? query;
        DnsResponseInfo info = default;
        lock (_sync)
        {
            // RFC 7858 §3.3: match on id AND question; anything else is not an answer to us.
            if (_pending.TryGetValue(id, out query) &&
                DnsMessageReader.TryScanResponse(message, query.Name, query.Info.QType, Span<int>.Empty, out info))
            {
                _pending.Remove(id);
                _inFlight = _pending.Count;
            }
            else
            {
                query = null;
            }
        }

        if (query is null)
        {
            _upstream.CountUnmatched(id);
            return;
        }

        if (info.KeepaliveTimeout >= 0)
        {
            ApplyKeepalive(info.KeepaliveTimeout);
        }

        _upstream.OnAnswer(query, message, info);
    }

    /// <summary>Fails the queries whose attempt deadline has passed (called a few times a second).</summary>
    public void Sweep(long now)
    {
        List<UpstreamQuery>? expired = null;
        lock (_sync)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            foreach (KeyValuePair<ushort, UpstreamQuery> entry in _pending)
            {
                if (entry.Value.AttemptDeadline <= now)
                {
                    (expired ??= new()).Add(entry.Value);
                    _pending.Remove(entry.Key);
                }
            }

            _inFlight = _pending.Count;
        }

        if (expired is not null)
        {
            foreach (UpstreamQuery query in expired)
            {
                _upstream.OnFailure(query, "no answer in time");
            }
        }
    }

    // RFC 7828 §3.3.2: the server's timeout (100 ms units) bounds how long we may keep the connection idle;
    // 0 asks us to stop using it.
    private void ApplyKeepalive(int timeout)
    {
        if (timeout == 0)
        {
            Volatile.Write(ref _draining, true);
            return;
        }

        long serverLimit = (long)((timeout / 10.0 - 1.0) * Stopwatch.Frequency);
        long configured = (long)(_pool.Settings.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
        Volatile.Write(ref _idleLimitTicks, Math.Max(0, Math.Min(serverLimit, configured)));
    }

    /// <summary>Closes the connection; queries in flight fail so they can be retried.</summary>
    public void Close(string reason)
    {
        UpstreamQuery[] lost;
        lock (_sync)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            lost = _pending.Count == 0 ? [] : [.. _pending.Values];
            _pending.Clear();
            _inFlight = 0;
        }

        _upstream.OnConnectionClosed(reason);
        _stream.Dispose();
        _socket.Dispose();
        foreach (UpstreamQuery query in lost)
        {
            _upstream.OnFailure(query, $"connection lost: {reason}");
        }
    }

    /// <summary>
    /// Acknowledges what the read loop has read now (TCP_QUICKACK with the value 2, Linux: IPPROTO_TCP option 12),
    /// when the upstream has sent nothing for <see cref="AckWaitMicroseconds"/> while queries are in flight.
    /// </summary>
    /// <remarks>
    /// Our writes keep the socket in Linux's interactive ("pingpong") mode, in which the ACK of what the server sends
    /// waits to ride on our next write, or for the delayed-ACK timer (at least 40 ms). A server that writes its
    /// answers with Nagle's algorithm on holds its next small segment until that ACK, so when every outstanding
    /// query is at the upstream we have nothing to write and both sides wait for the timer. Against the benchmark's
    /// unbound the TUN forward row stalled so about 9 times a second for ~43 ms, both cores idle, the read thread woken
    /// each time from the timer's softirq (perf sched, issue 21). An
    /// even non-zero value sends a pending ACK (once the receive queue is empty) and keeps delayed ACKs on. Sending
    /// it before every read instead (or the value 1 after every write) also ended the stalls, but the ACKs then went
    /// out after (nearly) every read instead of riding on our writes, and the gateway's CPU per forwarded query rose
    /// from ~22 to ~33–37 µs on both the socket and the TUN path.
    /// </remarks>
    private void SendPendingAck()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _socket.SetRawSocketOption(6, 12, AckNowKeepDelayed);
        }
        catch (SocketException)
        {
        }
    }

    // TCP_FASTOPEN_CONNECT (Linux 4.11+, value 30): the kernel sends the ClientHello in the SYN when it
    // holds a cookie for the server. Elsewhere the option is simply not available.
    private static void TryEnableFastOpen(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            socket.SetRawSocketOption(6, 30, [1, 0, 0, 0]);
        }
        catch (SocketException)
        {
        }
    }
}
