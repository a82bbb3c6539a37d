using System.Buffers;
using System.Threading.Tasks.Sources;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// Where an asynchronous caller (a DoH request, the gateway's name resolver) waits for its forwarded query's answer:
/// the query's sink, awaited as a <see cref="ValueTask"/> with no Task or TaskCompletionSource per query, and pooled.
/// </summary>
internal sealed class AnswerWaiter : IAnswerSink, IValueTaskSource
{
    private const int PoolCapacity = 1024;
    private static readonly Lock PoolLock = new();
    private static readonly Stack<AnswerWaiter> Pool = new();

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>The answer (rented; returned by <see cref="Return"/>).</summary>
    public byte[] Buffer { get; private set; } = [];

    /// <summary>Bytes of <see cref="Buffer"/> in use.</summary>
    public int Length { get; private set; }

    /// <summary>Takes a waiter from the pool.</summary>
    public static AnswerWaiter Rent()
    {
        lock (PoolLock)
        {
            if (Pool.TryPop(out AnswerWaiter? answer))
            {
                return answer;
            }
        }

        return new AnswerWaiter();
    }

    /// <summary>Completes when <see cref="OnAnswer"/> ran.</summary>
    public ValueTask WaitAsync() => new(this, _core.Version);

    /// <inheritdoc/>
    /// <remarks>On the thread that completed the query; the waiter continues on the thread pool, not on it.</remarks>
    public void OnAnswer(UpstreamQuery query, ReadOnlySpan<byte> answer)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(answer.Length, 1));
        answer.CopyTo(buffer);
        Buffer = buffer;
        Length = answer.Length;
        _core.SetResult(true);
    }

    /// <summary>Returns the answer buffer and the waiter to their pools.</summary>
    public void Return()
    {
        if (Buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(Buffer);
        }

        Buffer = [];
        Length = 0;
        _core.Reset();
        lock (PoolLock)
        {
            if (Pool.Count < PoolCapacity)
            {
                Pool.Push(this);
            }
        }
    }

    /// <inheritdoc/>
    public void GetResult(short token) => _core.GetResult(token);

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
