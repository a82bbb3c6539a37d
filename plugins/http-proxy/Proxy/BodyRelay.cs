using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>
/// Streams message bodies from one connection to the other without holding a whole body: bytes are
/// forwarded from the receive buffer as they arrive (RFC 9112 §6). Each stall waits at most the idle
/// timeout, re-armed on every read and write.
/// </summary>
internal static class BodyRelay
{
    /// <summary>Relays exactly <paramref name="length"/> bytes (a Content-Length body); <paramref name="fill"/> also gets them.</summary>
    public static async ValueTask<BodyResult> CopyLengthAsync(SocketReader from, SocketWriter to, long length, IdleDeadline deadline, CacheFill? fill = null)
    {
        while (length > 0)
        {
            if (from.Count == 0 && await FillAsync(from, to, deadline).ConfigureAwait(false) == 0)
            {
                return BodyResult.Truncated;
            }

            int run = (int)Math.Min(length, from.Count);
            deadline.Touch();
            fill?.Append(from.Buffered[..run]);
            await to.WriteAsync(from.BufferedMemory[..run], deadline.Token).ConfigureAwait(false);
            from.Consume(run);
            length -= run;
        }

        return BodyResult.Complete;
    }

    /// <summary>
    /// Relays a chunked body. Passed through as received (framing checked) when <paramref name="decode"/>
    /// is false; only the chunk data when true (the next hop is HTTP/1.0 and is delimited by close).
    /// <paramref name="fill"/> gets the chunk data (the decoded body).
    /// </summary>
    public static async ValueTask<BodyResult> CopyChunkedAsync(SocketReader from, SocketWriter to, bool decode, IdleDeadline deadline, CacheFill? fill = null)
    {
        ChunkedBodyParser parser = default;
        while (true)
        {
            if (from.Count == 0 && await FillAsync(from, to, deadline).ConfigureAwait(false) == 0)
            {
                return BodyResult.Truncated;
            }

            ChunkStatus status = parser.Advance(from.Buffered, out int consumed, out int dataOffset, out int dataLength);
            if (status == ChunkStatus.Invalid)
            {
                return BodyResult.Invalid;
            }

            fill?.Append(from.Buffered.Slice(dataOffset, dataLength));
            ReadOnlyMemory<byte> output = decode ? from.BufferedMemory.Slice(dataOffset, dataLength) : from.BufferedMemory[..consumed];
            if (!output.IsEmpty)
            {
                deadline.Touch();
                await to.WriteAsync(output, deadline.Token).ConfigureAwait(false);
            }

            from.Consume(consumed);
            if (status == ChunkStatus.Done)
            {
                return BodyResult.Complete;
            }
        }
    }

    /// <summary>Relays until the sender closes (a response delimited by close, RFC 9112 §6.3 item 8).</summary>
    public static async ValueTask<BodyResult> CopyToEndAsync(SocketReader from, SocketWriter to, IdleDeadline deadline, CacheFill? fill = null)
    {
        while (true)
        {
            if (from.Count == 0 && await FillAsync(from, to, deadline).ConfigureAwait(false) == 0)
            {
                return BodyResult.Complete;
            }

            deadline.Touch();
            fill?.Append(from.Buffered);
            await to.WriteAsync(from.BufferedMemory, deadline.Token).ConfigureAwait(false);
            from.Consume(from.Count);
        }
    }

    /// <summary>
    /// Receives more body bytes. What is gathered for the other side is sent only when the receive
    /// has to wait: a head and the body right behind it then leave in one send (one syscall, one
    /// wake-up of the peer), while a slow body still gets the head without delay.
    /// </summary>
    private static async ValueTask<int> FillAsync(SocketReader from, SocketWriter to, IdleDeadline deadline)
    {
        deadline.Touch();
        ValueTask<int> receive = from.FillAsync(deadline.Token);
        if (!receive.IsCompleted && to.Pending > 0)
        {
            await to.FlushAsync(deadline.Token).ConfigureAwait(false);
        }

        return await receive.ConfigureAwait(false);
    }
}
