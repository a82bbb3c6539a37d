using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// One DNS-over-TCP or DNS-over-TLS connection (RFC 7766, RFC 7858): 2-byte length framing, many queries read
/// while earlier ones are still being resolved (pipelining), answers written as they complete (out of order,
/// RFC 7766 §6.2.1.1) and coalesced into one write (one TLS record) when several are ready, an idle timeout,
/// and hard bounds on what a client can make the gateway hold (issue 13):
/// <list type="bullet">
/// <item>upstream queries in flight: <see cref="MaxPipelined"/>; reading pauses beyond it (back-pressure);</item>
/// <item>answer bytes waiting to be written: <c>maxBufferedAnswerBytes</c>; a client that sends queries and never
/// reads is closed when its answers pass it;</item>
/// <item>one write may take <c>clientWriteTimeoutMs</c>; then the connection is closed.</item>
/// </list>
/// Answers are held in buffers of their own size (rented), never in a buffer per query sized for the largest
/// message: 256 pipelined queries cost 256 small buffers, not 32 MiB.
/// </summary>
/// <remarks>
/// Cache hits, rule answers and errors are answered on the read loop from its read buffer; forwarded queries go
/// upstream as pooled <see cref="UpstreamQuery"/> objects with this session as their sink, so a forwarded query
/// allocates no Task and no copy of the query (<see cref="DnsResolver.CreateQuery"/> frames it once).
/// </remarks>
internal sealed class StreamSession : IAnswerSink
{
    /// <summary>Queries resolved concurrently per connection; reading pauses beyond it (back-pressure).</summary>
    public const int MaxPipelined = 256;

    // Answers queued together are copied into one write of up to this many bytes (a TLS record holds 16 KiB).
    private const int CoalesceBytes = 16 * 1024;
    private const int InitialReadBuffer = 4096;

    [ThreadStatic]
    private static byte[]? t_scratch;

    private readonly Stream _stream;
    private readonly DnsResolver _resolver;
    private readonly ClientGate? _gate;
    private readonly NetAddress _client;
    private readonly DnsTransport _transport;
    private readonly Action _abortConnection;
    private readonly DnsDotMetrics? _metrics;
    private readonly SemaphoreSlim _slots = new(MaxPipelined, MaxPipelined);
    private readonly Lock _sync = new();
    private readonly Queue<(byte[] Buffer, int Length)> _queue = new();
    private readonly CancellationTokenSource _readTimeout;
    private readonly CancellationTokenSource _writeTimeout = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _writeTimeoutSpan;
    private readonly int _maxBuffered;
    private readonly TimeSpan _readLimit;
    private long _buffered;
    private int _outstanding;
    private bool _writing;
    private bool _readDone;
    private bool _closed;

    /// <summary>Creates the session for one accepted (and, for DoT, handshaken) connection.</summary>
    /// <param name="stream">The connection's byte stream (a NetworkStream, or an SslStream over it).</param>
    /// <param name="resolver">The query path.</param>
    /// <param name="gate">Admission and limits; null admits everything with the default limits (tests).</param>
    /// <param name="client">The client's address (ACL, rate limit, logs).</param>
    /// <param name="transport">Tcp or Tls.</param>
    /// <param name="abortConnection">Closes the connection at once (an offender): disposes its socket.</param>
    /// <param name="metrics">The plugin's instruments.</param>
    /// <param name="cancellationToken">Signalled when the listener stops.</param>
    /// <param name="readLimit">
    /// The host's idle limit for every connection (<c>host.limits.idleTimeoutSeconds</c>,
    /// <see cref="Gateway.Sdk.Handlers.StreamConnection.IdleTimeout"/>): no read waits longer, whatever
    /// <c>clientIdleTimeoutMs</c> says. Null or infinite for none. The session enforces it on its own read timer, so
    /// the handlers give it the socket's plain stream rather than the SDK's idle-timeout wrapper, which would arm a
    /// second timer and link a second cancellation source on every read.
    /// </param>
    public StreamSession(Stream stream, DnsResolver resolver, ClientGate? gate, NetAddress client, DnsTransport transport, Action abortConnection, DnsDotMetrics? metrics, CancellationToken cancellationToken, TimeSpan? readLimit = null)
    {
        _stream = stream;
        _resolver = resolver;
        _gate = gate;
        _client = client;
        _transport = transport;
        _abortConnection = abortConnection;
        _metrics = metrics;
        _readTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _writeTimeoutSpan = gate?.WriteTimeout ?? TimeSpan.FromSeconds(5);
        _maxBuffered = gate?.MaxBufferedAnswerBytes ?? 256 * 1024;
        _readLimit = readLimit is { } limit && limit > TimeSpan.Zero ? limit : Timeout.InfiniteTimeSpan;
    }

    /// <summary>Upstream queries in flight on this connection.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>Answer bytes queued and not yet written.</summary>
    public long Buffered => Interlocked.Read(ref _buffered);

    /// <summary>
    /// Reads and answers queries until the client closes, the idle timeout passes or the session is aborted; then
    /// waits for the answers still owed (bounded by the query and write timeouts). Returns why it ended.
    /// </summary>
    public async Task<string> RunAsync()
    {
        // clientIdleTimeoutMs as configured when the connection opened (a reload applies to new connections).
        ResolverSnapshot snapshot = _resolver.Snapshot;
        TimeSpan idle = snapshot.ClientIdleTimeout;
        TimeSpan busy = idle + TimeSpan.FromMilliseconds(snapshot.Options.QueryTimeoutMs);
        if (_readLimit != Timeout.InfiniteTimeSpan)
        {
            idle = idle < _readLimit ? idle : _readLimit;
            busy = busy < _readLimit ? busy : _readLimit;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(InitialReadBuffer);
        int start = 0;
        int end = 0;
        long partialSince = 0;
        string reason = "closed by the client";
        try
        {
            while (true)
            {
                // RFC 7766 §6.2.3: close connections that stay idle; while answers are owed the client may just wait.
                TimeSpan wait = Volatile.Read(ref _outstanding) == 0 ? idle : busy;
                if (end > start)
                {
                    // A message has begun: it must be complete within the idle timeout of its first byte, however
                    // its bytes trickle in (slowloris: a byte now and then would otherwise hold the connection for good).
                    partialSince = partialSince == 0 ? Stopwatch.GetTimestamp() : partialSince;
                    TimeSpan left = idle - Stopwatch.GetElapsedTime(partialSince);
                    wait = left < wait ? (left > TimeSpan.Zero ? left : TimeSpan.Zero) : wait;
                }

                _readTimeout.CancelAfter(wait);
                int read = await _stream.ReadAsync(buffer.AsMemory(end), _readTimeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                end += read;
                if (end - start >= 2 && end - start - 2 >= BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start)))
                {
                    // The pending message is complete: the next one's clock starts with its own first byte.
                    partialSince = 0;
                }

                while (end - start >= 2)
                {
                    int length = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start));
                    if (end - start - 2 < length)
                    {
                        break;
                    }

                    if (!_slots.Wait(0))
                    {
                        // MaxPipelined queries are upstream: read nothing more until one is answered.
                        _readTimeout.CancelAfter(busy);
                        await _slots.WaitAsync(_readTimeout.Token).ConfigureAwait(false);
                    }

                    Process(buffer.AsSpan(start + 2, length));
                    start += 2 + length;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - end < 512 || start + 2 + BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start)) > buffer.Length)
                {
                    // Move the partial message to the front, into a larger buffer when it would not fit.
                    int needed = end - start >= 2 ? 2 + BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(start)) : InitialReadBuffer;
                    byte[] target = needed > buffer.Length ? ArrayPool<byte>.Shared.Rent(needed) : buffer;
                    buffer.AsSpan(start, end - start).CopyTo(target);
                    if (!ReferenceEquals(target, buffer))
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = target;
                    }

                    end -= start;
                    start = 0;
                }
            }
        }
        catch (OperationCanceledException) when (Volatile.Read(ref _closed))
        {
            reason = "closed: the client does not read its answers";
        }
        catch (OperationCanceledException) when (partialSince != 0 && end > start)
        {
            reason = $"a query did not arrive whole within {idle.TotalMilliseconds:0} ms of its first byte";
            _gate?.ConnectionAborted(_client, "slow_query");
            _metrics?.ClientReadErrors.Add(1);
        }
        catch (OperationCanceledException)
        {
            reason = "idle timeout";
            _metrics?.ClientReadErrors.Add(1);
        }
        catch (Exception e) when (e is IOException or TimeoutException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            reason = e.Message;
            _metrics?.ClientReadErrors.Add(1);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        lock (_sync)
        {
            _readDone = true;
        }

        CheckDrained();

        // Answers still owed come within the query timeout, and each write within the write timeout.
        await _drained.Task.WaitAsync(busy + _writeTimeoutSpan + _writeTimeoutSpan).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _readTimeout.Dispose();
        return reason;
    }

    /// <inheritdoc/>
    /// <remarks>Runs on the thread that completed the query (an upstream's read loop): copy and queue.</remarks>
    public void OnAnswer(UpstreamQuery query, ReadOnlySpan<byte> answer)
    {
        Enqueue(answer);
        Interlocked.Decrement(ref _outstanding);
        _slots.Release();
        CheckDrained();
    }

    private void Process(ReadOnlySpan<byte> query)
    {
        byte[] scratch = t_scratch ??= new byte[DnsResolver.MaxMessageSize];
        if (_gate is not null)
        {
            AdmissionResult admission = _gate.Admit(_client, _transport);
            if (admission != AdmissionResult.Allow)
            {
                _slots.Release();
                int refusal = AdmissionAnswer.Write(query, admission, scratch);
                if (refusal > 0)
                {
                    Enqueue(scratch.AsSpan(0, refusal));
                }

                return;
            }
        }

        ResolveStep step = _resolver.Begin(query, _client, _transport, ushort.MaxValue, scratch, out int length, out PendingQuery pending);
        if (step != ResolveStep.Upstream)
        {
            _slots.Release();
            if (step == ResolveStep.Answered)
            {
                Enqueue(scratch.AsSpan(0, length));
            }

            return;
        }

        Interlocked.Increment(ref _outstanding);
        UpstreamQuery upstream = _resolver.CreateQuery(query, pending, this, pending.Started);
        _resolver.Forward(upstream);
    }

    // Copies one answer behind its 2-byte length into a buffer of its own size and queues it for the writer.
    private void Enqueue(ReadOnlySpan<byte> answer)
    {
        int length = 2 + answer.Length;
        byte[] framed = ArrayPool<byte>.Shared.Rent(length);
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)answer.Length);
        answer.CopyTo(framed.AsSpan(2));
        bool startWriter = false;
        bool overCap = false;
        lock (_sync)
        {
            if (_closed)
            {
                ArrayPool<byte>.Shared.Return(framed);
                return;
            }

            _buffered += length;
            if (_buffered > _maxBuffered)
            {
                overCap = true;
            }
            else
            {
                _queue.Enqueue((framed, length));
                if (!_writing)
                {
                    _writing = true;
                    startWriter = true;
                }
            }
        }

        if (overCap)
        {
            ArrayPool<byte>.Shared.Return(framed);
            Abort("buffer_cap");
            return;
        }

        if (startWriter)
        {
            _ = WriteLoopAsync();
        }
    }

    // The one writer: takes what is queued, up to CoalesceBytes per write, until the queue is empty.
    private async Task WriteLoopAsync()
    {
        byte[]? batch = null;
        try
        {
            while (true)
            {
                byte[] toWrite;
                int used = 0;
                byte[]? single = null;
                lock (_sync)
                {
                    if (_closed || _queue.Count == 0)
                    {
                        _writing = false;
                        break;
                    }

                    (byte[] first, int firstLength) = _queue.Peek();
                    if (_queue.Count == 1 || firstLength > CoalesceBytes)
                    {
                        _queue.Dequeue();
                        single = first;
                        used = firstLength;
                    }
                    else
                    {
                        batch ??= ArrayPool<byte>.Shared.Rent(CoalesceBytes);
                        while (_queue.TryPeek(out (byte[] Buffer, int Length) item) && used + item.Length <= batch.Length)
                        {
                            _queue.Dequeue();
                            item.Buffer.AsSpan(0, item.Length).CopyTo(batch.AsSpan(used));
                            used += item.Length;
                            ArrayPool<byte>.Shared.Return(item.Buffer);
                        }
                    }
                }

                toWrite = single ?? batch!;
                try
                {
                    _writeTimeout.CancelAfter(_writeTimeoutSpan);
                    await _stream.WriteAsync(toWrite.AsMemory(0, used), _writeTimeout.Token).ConfigureAwait(false);
                    if (!_writeTimeout.TryReset())
                    {
                        // The timer fired as the write completed: it took the whole timeout anyway.
                        throw new OperationCanceledException();
                    }
                }
                finally
                {
                    if (single is not null)
                    {
                        ArrayPool<byte>.Shared.Return(single);
                    }
                }

                lock (_sync)
                {
                    _buffered -= used;
                }
            }
        }
        catch (OperationCanceledException)
        {
            Abort("write_timeout");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            // The client went away: nothing more can be written.
            _metrics?.ClientWriteErrors.Add(1);
            Abort(null);
        }
        finally
        {
            if (batch is not null)
            {
                ArrayPool<byte>.Shared.Return(batch);
            }
        }

        CheckDrained();
    }

    /// <summary>
    /// Closes the connection at once and forgets its queued answers; <paramref name="reason"/> (write_timeout,
    /// buffer_cap) counts and logs it as an offender, null is a client that simply went away.
    /// </summary>
    private void Abort(string? reason)
    {
        (byte[] Buffer, int Length)[] dropped;
        lock (_sync)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            dropped = _queue.Count == 0 ? [] : _queue.ToArray();
            _queue.Clear();
            _buffered = 0;
        }

        foreach ((byte[] buffer, _) in dropped)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (reason is not null)
        {
            _gate?.ConnectionAborted(_client, reason);
        }

        try
        {
            _readTimeout.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _abortConnection();
        CheckDrained();
    }

    // The session is done once reading has stopped, no answer is owed and nothing is being written.
    private void CheckDrained()
    {
        lock (_sync)
        {
            if (!_readDone || Volatile.Read(ref _outstanding) != 0 || (_writing && !_closed) || (_queue.Count > 0 && !_closed))
            {
                return;
            }
        }

        _drained.TrySetResult();
    }
}
