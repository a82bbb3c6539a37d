using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Security;
using System.Net.Sockets;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// One TLS connection to an upstream carrying many queries at once (RFC 7858 §3.3, RFC 7766 §6.2.1.1):
/// each query gets a connection-unique id, answers are matched by (id, name, type) in whatever order
/// they arrive.
/// </summary>
internal sealed class DotConnection : IAsyncDisposable
{
    private readonly DotUpstream _upstream;
    private readonly Socket _socket;
    private readonly SslStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Dictionary<ushort, Pending> _pending = new();
    private readonly CancellationTokenSource _closed = new();
    private ushort _nextId = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
    private long _lastActivity;
    private long _idleLimitTicks;
    private bool _draining;

    private DotConnection(DotUpstream upstream, Socket socket, SslStream stream)
    {
        _upstream = upstream;
        _socket = socket;
        _stream = stream;
        _lastActivity = Stopwatch.GetTimestamp();
        _idleLimitTicks = (long)(upstream.Settings.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Queries sent on this connection and not yet answered.</summary>
    public int InFlight
    {
        get
        {
            lock (_pending)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>False once the connection failed, was closed by the server, or asked to be drained (keepalive 0).</summary>
    public bool IsOpen => !_closed.IsCancellationRequested && !Volatile.Read(ref _draining);

    /// <summary>True when the connection has been idle past its limit (dotproxy's stale_timeout, RFC 7828 keepalive).</summary>
    public bool IsStale(long now) => InFlight == 0 && now - Volatile.Read(ref _lastActivity) > Volatile.Read(ref _idleLimitTicks);

    /// <summary>Opens a protected TCP connection (Fast Open where possible) and completes the verified TLS handshake.</summary>
    /// <exception cref="UpstreamException">Connect or handshake failed; the message says why.</exception>
    public static async Task<DotConnection> ConnectAsync(DotUpstream upstream, CancellationToken cancellationToken)
    {
        UpstreamSettings settings = upstream.Settings;
        var socket = new Socket(upstream.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? stream = null;
        try
        {
            TryEnableFastOpen(socket);
            settings.ProtectSocket(socket);
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connectTimeout.CancelAfter(settings.ConnectTimeout);
                try
                {
                    await socket.ConnectAsync(upstream.Endpoint, connectTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new UpstreamException($"connect timed out after {settings.ConnectTimeout.TotalMilliseconds:0} ms");
                }
                catch (SocketException e)
                {
                    throw new UpstreamException(e.Message, e);
                }
            }

            stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            DotTlsVerifier.StrongReason reason = DotTlsVerifier.BeginHandshake();
            using (var handshakeTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                handshakeTimeout.CancelAfter(settings.HandshakeTimeout);
                try
                {
                    await stream.AuthenticateAsClientAsync(upstream.Verifier.Options, handshakeTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new UpstreamException($"TLS handshake timed out after {settings.HandshakeTimeout.TotalMilliseconds:0} ms");
                }
                catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
                {
                    throw new UpstreamTlsException(reason.Reason ?? $"TLS handshake failed: {e.Message}", e);
                }
            }

            var connection = new DotConnection(upstream, socket, stream);
            _ = connection.ReadLoopAsync();
            return connection;
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends the framed query (<paramref name="frame"/>: 2-byte length then the message) after writing a
    /// fresh id into it, and waits for the matching answer.
    /// </summary>
    /// <exception cref="UpstreamException">The connection failed before the answer came.</exception>
    public async Task<UpstreamAnswer> QueryAsync(Memory<byte> frame, ReadOnlyMemory<byte> questionName, ushort qtype, CancellationToken cancellationToken)
    {
        var pending = new Pending(questionName, qtype);
        ushort id;
        lock (_pending)
        {
            if (!IsOpen)
            {
                throw new UpstreamException("connection closed");
            }

            do
            {
                id = _nextId++;
            }
            while (_pending.ContainsKey(id));
            _pending.Add(id, pending);
        }

        try
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                BinaryPrimitives.WriteUInt16BigEndian(frame.Span[2..], id);
                await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
                await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }

            Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
            using (cancellationToken.UnsafeRegister(static state => ((Pending)state!).Completion.TrySetCanceled(), pending))
            {
                return await pending.Completion.Task.ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
        {
            Close(e.Message);
            throw new UpstreamException($"write failed: {e.Message}", e);
        }
        finally
        {
            lock (_pending)
            {
                _pending.Remove(id);
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        byte[] lengthBuffer = new byte[2];
        string reason = "closed by the server";
        try
        {
            while (!_closed.IsCancellationRequested)
            {
                if (!await ReadExactlyAsync(lengthBuffer).ConfigureAwait(false))
                {
                    break;
                }

                int length = BinaryPrimitives.ReadUInt16BigEndian(lengthBuffer);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1) + DnsMessageWriter.OptSize);
                if (!await ReadExactlyAsync(buffer.AsMemory(0, length)).ConfigureAwait(false))
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }

                Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
                Deliver(buffer, length);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            reason = e.Message;
        }

        Close(reason);
    }

    private void Deliver(byte[] buffer, int length)
    {
        ushort id = length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(buffer) : (ushort)0;
        Pending? pending;
        lock (_pending)
        {
            _pending.TryGetValue(id, out pending);
        }

        ReadOnlySpan<byte> message = buffer.AsSpan(0, length);
        if (pending is null ||
            !DnsMessageReader.TryScanResponse(message, pending.Name.Span, pending.QType, Span<int>.Empty, out DnsResponseInfo info))
        {
            // RFC 7858 §3.3: match on id AND question; anything else is not an answer to us.
            _upstream.CountUnmatched(id);
            ArrayPool<byte>.Shared.Return(buffer);
            return;
        }

        if (info.KeepaliveTimeout >= 0)
        {
            ApplyKeepalive(info.KeepaliveTimeout);
        }

        if (!pending.Completion.TrySetResult(new UpstreamAnswer(buffer, length)))
        {
            ArrayPool<byte>.Shared.Return(buffer);
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
        long configured = (long)(_upstream.Settings.IdleTimeout.TotalSeconds * Stopwatch.Frequency);
        Volatile.Write(ref _idleLimitTicks, Math.Max(0, Math.Min(serverLimit, configured)));
    }

    private async ValueTask<bool> ReadExactlyAsync(Memory<byte> buffer)
    {
        int read = await _stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, _closed.Token).ConfigureAwait(false);
        return read == buffer.Length;
    }

    /// <summary>Closes the connection; queries in flight fail with <see cref="UpstreamException"/> so they can be retried.</summary>
    public void Close(string reason)
    {
        lock (_pending)
        {
            if (_closed.IsCancellationRequested)
            {
                return;
            }

            _closed.Cancel();
            foreach (Pending pending in _pending.Values)
            {
                pending.Completion.TrySetException(new UpstreamException($"connection lost: {reason}"));
            }
        }

        _upstream.OnConnectionClosed(reason);
        _stream.Dispose();
        _socket.Dispose();
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Close("closing");
        return ValueTask.CompletedTask;
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

    private sealed class Pending(ReadOnlyMemory<byte> name, ushort qtype)
    {
        public ReadOnlyMemory<byte> Name { get; } = name;

        public ushort QType { get; } = qtype;

        public TaskCompletionSource<UpstreamAnswer> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
