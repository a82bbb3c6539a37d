namespace Gateway.Sdk.Handlers;

/// <summary>
/// A batch of datagram work on the current thread: while one is open, participants (the host's reply path,
/// a plugin's upstream writer) may queue their work and enlist, and it is flushed when the outermost batch
/// ends — so many datagrams handled in one wake-up leave in one system call (sendmmsg, one TLS record).
/// </summary>
/// <remarks>
/// The host opens a batch around the datagrams of one receive batch before calling
/// <see cref="IDatagramHandler.OnDatagram"/>; a plugin may open one around replies it produces together (for
/// example every answer carried by one upstream read). Batches are per thread and nest; nothing is deferred
/// on a thread without an open batch. <see cref="DatagramRequest.Reply"/> inside a batch returns true once the
/// reply is queued; a send that then fails is counted by the host.
/// </remarks>
public static class DatagramBatch
{
    [ThreadStatic]
    private static int t_depth;

    [ThreadStatic]
    private static IDatagramBatchParticipant?[]? t_enlisted;

    [ThreadStatic]
    private static int t_count;

    /// <summary>True when the current thread has an open batch (work may be deferred to its end).</summary>
    public static bool IsOpen => t_depth > 0;

    /// <summary>Opens a batch on the current thread; dispose the scope to end it (and flush at the outermost end).</summary>
    public static Scope Open()
    {
        t_depth++;
        return default;
    }

    /// <summary>
    /// Asks for <paramref name="participant"/>'s <see cref="IDatagramBatchParticipant.FlushBatch"/> when the
    /// current batch ends (once, however often it enlists). Returns false when no batch is open: do the work now.
    /// </summary>
    public static bool Enlist(IDatagramBatchParticipant participant)
    {
        ArgumentNullException.ThrowIfNull(participant);
        if (t_depth == 0)
        {
            return false;
        }

        IDatagramBatchParticipant?[] enlisted = t_enlisted ??= new IDatagramBatchParticipant?[8];
        for (int i = 0; i < t_count; i++)
        {
            if (ReferenceEquals(enlisted[i], participant))
            {
                return true;
            }
        }

        if (t_count == enlisted.Length)
        {
            Array.Resize(ref t_enlisted, enlisted.Length * 2);
            enlisted = t_enlisted;
        }

        enlisted[t_count++] = participant;
        return true;
    }

    private static void End()
    {
        if (t_depth > 1)
        {
            t_depth--;
            return;
        }

        // Flush while still open, so work a flush causes (a reply after a write) joins this batch; a participant
        // that throws does not keep the others from flushing.
        Exception? failure = null;
        try
        {
            for (int i = 0; i < t_count; i++)
            {
                IDatagramBatchParticipant participant = t_enlisted![i]!;
                t_enlisted[i] = null;
                try
                {
                    participant.FlushBatch();
                }
                catch (Exception e)
                {
                    failure ??= e;
                }
            }
        }
        finally
        {
            t_count = 0;
            t_depth = 0;
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>An open batch; <see cref="Dispose"/> ends it. Use with <c>using</c> on the thread that opened it.</summary>
    public readonly ref struct Scope
    {
        /// <summary>Ends the batch; the outermost end flushes every participant that enlisted.</summary>
        public void Dispose()
        {
            if (t_depth > 0)
            {
                End();
            }
        }
    }
}
