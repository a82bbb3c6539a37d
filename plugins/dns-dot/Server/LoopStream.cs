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
/// One read and one write may be outstanding at a time, from any thread (the session's writer runs on an upstream's
/// reader thread for forwarded answers). A cancellation token ends only its own wait: the read timeout cancels the
/// waiting receive (<see cref="LoopSocket.CancelReceive"/>), not a write still under way, as with a NetworkStream.
/// Disposing does not close the socket or take it off the loop: the handler owns both.
/// </remarks>
internal sealed class LoopStream : Stream
{
    private static readonly Action<object?> CancelReceiveCallback = static state => ((LoopSocket)state!).CancelReceive();
    private static readonly Action<object?> CancelSendCallback = static state => ((LoopSocket)state!).CancelSend();

    private readonly LoopSocket _socket;

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

        ValueTask send = _socket.SendAsync(buffer);
        return send.IsCompleted || !cancellationToken.CanBeCanceled ? send : SendCancellableAsync(send, cancellationToken);
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

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendCancellableAsync(ValueTask send, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(CancelSendCallback, _socket))
        {
            await send.ConfigureAwait(false);
        }
    }
}
