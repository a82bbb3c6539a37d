using System.Buffers;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io.Epoll;

namespace Gateway.Plugins.HttpProxy.Io;

/// <summary>
/// A send buffer over a connected socket: heads and small body pieces are gathered into one pooled
/// array and sent with one syscall; large pieces are sent straight from the caller's memory.
/// </summary>
/// <remarks>
/// When the socket is served by an <see cref="EpollLoop"/> (<see cref="Loop"/>), sends go through it and ignore the
/// token: the loop socket's owner aborts it when the token's deadline fires.
/// </remarks>
internal sealed class SocketWriter : IBufferWriter<byte>, IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer;
    private int _count;

    public SocketWriter(Socket socket, int bufferSize)
    {
        _socket = socket;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
    }

    /// <summary>The socket's <see cref="LoopSocket"/> when it is served by an epoll loop; null for System.Net.Sockets.</summary>
    public LoopSocket? Loop { get; set; }

    /// <summary>Total bytes sent to the socket.</summary>
    public long BytesSent { get; private set; }

    /// <summary>Bytes gathered and not yet sent.</summary>
    public int Pending => _count;

    /// <summary>Appends bytes to the pending send; grows the buffer when a large head needs it.</summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_count));
        _count += bytes.Length;
    }

    private void Reserve(int length)
    {
        if (_count + length > _buffer.Length)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(_count + length);
            _buffer.AsSpan(0, _count).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
    }

    /// <inheritdoc/>
    public void Advance(int count) => _count += count;

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_count);
    }

    /// <inheritdoc/>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_count);
    }

    /// <summary>Writes body bytes: gathered when they fit the buffer, else sent directly after what is pending.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (_count + bytes.Length <= _buffer.Length)
        {
            bytes.Span.CopyTo(_buffer.AsSpan(_count));
            _count += bytes.Length;
            return ValueTask.CompletedTask;
        }

        return FlushAndSendAsync(bytes, cancellationToken);
    }

    /// <summary>Sends everything pending.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_count == 0)
        {
            return ValueTask.CompletedTask;
        }

        int count = _count;
        _count = 0;
        return SendAllAsync(_buffer.AsMemory(0, count), cancellationToken);
    }

    /// <summary>Drops anything pending (the connection is being abandoned).</summary>
    public void Discard() => _count = 0;

    private async ValueTask FlushAndSendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await SendAllAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask SendAllAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (Loop is not { } loop)
        {
            return SendAllSocketAsync(bytes, cancellationToken);
        }

        // Sent at once unless the socket's buffer is full: no state machine then.
        ValueTask send = loop.SendAsync(bytes);
        if (send.IsCompletedSuccessfully)
        {
            BytesSent += bytes.Length;
            return ValueTask.CompletedTask;
        }

        return AwaitSendAsync(send, bytes.Length);
    }

    private async ValueTask AwaitSendAsync(ValueTask send, int length)
    {
        await send.ConfigureAwait(false);
        BytesSent += length;
    }

    private async ValueTask SendAllSocketAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            int sent = await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            BytesSent += sent;
            bytes = bytes[sent..];
        }
    }

    public void Dispose()
    {
        byte[] buffer = Interlocked.Exchange(ref _buffer, Array.Empty<byte>());
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
