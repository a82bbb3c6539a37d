namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>A consumer of queued query events (statistics, the in-memory log, the log file, dnstap), run on the writer thread only.</summary>
internal interface IQueryEventSink
{
    /// <summary>One event; the slot is reused after the call: copy what must be kept.</summary>
    void OnEvent(QueryEvent queryEvent);

    /// <summary>The end of a batch (flush buffers here).</summary>
    void OnBatchEnd();
}
