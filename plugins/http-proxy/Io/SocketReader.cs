using System.Buffers;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io.Epoll;

namespace Gateway.Plugins.HttpProxy.Io;

/// <summary>
/// A receive buffer over a connected socket: one pooled contiguous array, so a whole head can be
/// parsed as one span (what Kestrel gets from System.IO.Pipelines, minus multi-segment heads),
/// and body bytes are forwarded straight from it without another copy.
/// </summary>
internal sealed class SocketReader : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer;
    private int _start;
    private int _end;

    public SocketReader(Socket socket, int bufferSize)
    {
        _socket = socket;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
    }

    /// <summary>Bytes received and not yet consumed.</summary>
    public ReadOnlySpan<byte> Buffered => _buffer.AsSpan(_start, _end - _start);

    /// <summary>The same bytes as memory, for sends.</summary>
    public ReadOnlyMemory<byte> BufferedMemory => _buffer.AsMemory(_start, _end - _start);

    /// <summary>Number of buffered bytes.</summary>
    public int Count => _end - _start;

    /// <summary>The buffer's capacity: the largest head that can be parsed.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>
    /// The socket's <see cref="LoopSocket"/> when it is served by an <see cref="EpollLoop"/> (receives then complete
    /// on the loop and ignore the token: the loop socket's owner aborts it instead); null for System.Net.Sockets.
    /// </summary>
    public LoopSocket? Loop { get; set; }

    /// <summary>Total bytes received from the socket.</summary>
    public long BytesReceived { get; private set; }

    /// <summary>Marks <paramref name="count"/> buffered bytes as used.</summary>
    public void Consume(int count)
    {
        _start += count;
        if (_start == _end)
        {
            _start = 0;
            _end = 0;
        }
    }

    /// <summary>Receives more bytes after the buffered ones; 0 means the peer closed its side (or the buffer is full).</summary>
    public async ValueTask<int> FillAsync(CancellationToken cancellationToken)
    {
        if (_end == _buffer.Length)
        {
            if (_start == 0)
            {
                return 0;
            }

            // Move the unconsumed tail to the front (heads are small; bodies are consumed before filling).
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        int received = Loop is not { } loop
            ? await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false)
            : await loop.ReceiveAsync(_buffer.AsMemory(_end)).ConfigureAwait(false);
        _end += received;
        BytesReceived += received;
        return received;
    }

    /// <summary>True when the buffer has no room left even after moving the unconsumed bytes to the front.</summary>
    public bool IsFull => _start == 0 && _end == _buffer.Length;

    public void Dispose()
    {
        byte[] buffer = Interlocked.Exchange(ref _buffer, Array.Empty<byte>());
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
