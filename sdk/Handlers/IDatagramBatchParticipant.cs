namespace Gateway.Sdk.Handlers;

/// <summary>Work deferred to the end of a <see cref="DatagramBatch"/> (queued replies, coalesced writes).</summary>
public interface IDatagramBatchParticipant
{
    /// <summary>Sends what was queued on the current thread during the batch. Called on that thread; should not throw.</summary>
    void FlushBatch();
}
