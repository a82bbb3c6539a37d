using System.Buffers;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>An upstream response in a buffer rented from <see cref="ArrayPool{T}.Shared"/>; the receiver returns it.</summary>
/// <param name="Buffer">The rented buffer.</param>
/// <param name="Length">The message length.</param>
internal readonly record struct UpstreamAnswer(byte[] Buffer, int Length)
{
    /// <summary>Returns the buffer to the pool.</summary>
    public void Release() => ArrayPool<byte>.Shared.Return(Buffer);
}
