using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Gateway.Plugins.DnsDot.Filtering;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// The hand-off from the query path to everything that looks at queries afterwards: a bounded double buffer of
/// preallocated event slots. A query copies its two messages into the next free slot under a short lock (no
/// allocation, no waiting: when the buffer is full the event is dropped and counted), and one writer thread swaps
/// the buffers every few milliseconds and feeds the batch to the sinks (statistics, in-memory log, log file,
/// dnstap). So logging can fall behind, lose events under overload, or stall on a slow disk or collector,
/// and queries are still answered at full speed.
/// </summary>
internal sealed class QueryEventQueue : IQueryObserver, IDisposable
{
    /// <summary>Events a batch holds: with the writer waking every <see cref="Interval"/>, ~400k events/s before drops.</summary>
    public const int DefaultCapacity = 8192;

    // A slot keeps a message buffer up to this size between batches (ordinary queries and answers); larger ones are
    // let go after their batch, so the 2 x 8,192 slots keep at most 32 MiB however large the messages were (a few
    // MiB in practice: a batch holds the queries of 20 ms).
    private const int RetainedSlotBytes = 2048;

    // The messages of one batch, back to back: the query path writes them in sequence and the writer reads them in
    // sequence, instead of each event touching its own buffer somewhere in memory (issue 21's cache-hit profile: the copy
    // into the slots' scattered buffers was the largest single cost of the event on the query path). 8,192 events of
    // 128 bytes; a batch of larger messages goes on in the events' own buffers.
    private const int ArenaBytes = 1 << 20;

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan DropReportInterval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private readonly Thread _writer;
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Counter<long>? _droppedCounter;
    private QueryEvent[] _filling;
    private QueryEvent[] _draining;
    private int _count;

    // Allocated with the first event (an idle gateway keeps none); swapped with the event arrays.
    private byte[]? _fillingArena;
    private byte[]? _drainingArena;
    private int _arenaUsed;
    private volatile bool _stopping;
    private volatile IQueryEventSink[] _sinks = [];
    private volatile bool _wantsUpstream;
    private long _dropped;
    private long _droppedReported;
    private long _lastDropReport;
    private long _processed;
    private bool _busy;

    public QueryEventQueue(ILogger logger, Meter? meter, int capacity = DefaultCapacity)
    {
        _logger = logger;
        _filling = new QueryEvent[capacity];
        _draining = new QueryEvent[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _filling[i] = new QueryEvent();
            _draining[i] = new QueryEvent();
        }

        _droppedCounter = meter?.CreateCounter<long>("dns.querylog.dropped", "{event}", "Query events (query log, statistics, dnstap) dropped because the writer fell behind");
        _writer = new Thread(Run) { IsBackground = true, Name = "dns-dot query log" };
        _writer.Start();
    }

    /// <inheritdoc/>
    public bool WantsUpstreamMessages => _wantsUpstream;

    /// <summary>Events dropped so far.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Events handed to the sinks so far.</summary>
    public long Processed => Interlocked.Read(ref _processed);

    /// <summary>Replaces the sinks (a reload that changes the log file or dnstap); <paramref name="wantsUpstream"/> turns FORWARDER events on.</summary>
    public void SetSinks(IQueryEventSink[] sinks, bool wantsUpstream)
    {
        _sinks = sinks;
        _wantsUpstream = wantsUpstream;
    }

    /// <inheritdoc/>
    public void OnAnswered(in QueryRecord record, ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer)
    {
        lock (_lock)
        {
            if (_count == _filling.Length)
            {
                Drop();
                return;
            }

            QueryEvent slot = _filling[_count++];
            if (_count == _filling.Length / 2)
            {
                // A burst: drain now rather than at the next tick, before the other half fills and queries are dropped.
                _wake.Set();
            }

            slot.IsUpstream = false;
            slot.Record = record;
            slot.Upstream = null;
            slot.UpstreamEndpoint = null;
            Store(slot, query, answer);
        }
    }

    /// <inheritdoc/>
    public void OnUpstreamExchange(string upstream, IPEndPoint endpoint, ReadOnlySpan<byte> query, ReadOnlySpan<byte> response, long sentAt, long receivedAt)
    {
        lock (_lock)
        {
            if (_count == _filling.Length)
            {
                Drop();
                return;
            }

            QueryEvent slot = _filling[_count++];
            slot.IsUpstream = true;
            slot.Record = default;
            slot.Upstream = upstream;
            slot.UpstreamEndpoint = endpoint;
            slot.SentAt = sentAt;
            slot.ReceivedAt = receivedAt;
            Store(slot, query, response);
        }
    }

    // Under the lock: the messages into the batch's arena while it has room, else into the slot's own buffer.
    private void Store(QueryEvent slot, ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer)
    {
        int size = query.Length + answer.Length;
        if (_arenaUsed + size <= ArenaBytes)
        {
            slot.SetMessages(query, answer, _fillingArena ??= GC.AllocateUninitializedArray<byte>(ArenaBytes), _arenaUsed);
            _arenaUsed += size;
        }
        else
        {
            slot.SetMessages(query, answer);
        }
    }

    /// <summary>Waits until everything queued so far was handed to the sinks (tests, shutdown).</summary>
    public void Flush(TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            lock (_lock)
            {
                if (_count == 0 && !_busy)
                {
                    return;
                }
            }

            _wake.Set();
            Thread.Sleep(5);
        }
    }

    public void Dispose()
    {
        Flush(TimeSpan.FromSeconds(2));
        _stopping = true;
        _wake.Set();
        _writer.Join(TimeSpan.FromSeconds(5));
    }

    private void Drop()
    {
        Interlocked.Increment(ref _dropped);
        _droppedCounter?.Add(1);
    }

    private void Run()
    {
        while (!_stopping)
        {
            _wake.Wait(Interval);
            _wake.Reset();
            QueryEvent[] batch;
            int count;
            lock (_lock)
            {
                batch = _filling;
                count = _count;
                _filling = _draining;
                _draining = batch;
                (_fillingArena, _drainingArena) = (_drainingArena, _fillingArena);
                _arenaUsed = 0;
                _count = 0;
                _busy = count > 0;
            }

            if (count > 0)
            {
                EventClock.Refresh();
                IQueryEventSink[] sinks = _sinks;
                foreach (IQueryEventSink sink in sinks)
                {
                    try
                    {
                        for (int i = 0; i < count; i++)
                        {
                            sink.OnEvent(batch[i]);
                        }

                        sink.OnBatchEnd();
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // A sink's bug must not end the writer thread: the others keep working.
                        FilteringLog.QueryLogFailed(_logger, sink.GetType().Name, $"{e.GetType().Name}: {e.Message}");
                    }
                }

                for (int i = 0; i < count; i++)
                {
                    batch[i].Shrink(RetainedSlotBytes);
                }

                Interlocked.Add(ref _processed, count);
                lock (_lock)
                {
                    _busy = false;
                }
            }

            ReportDrops();
        }
    }

    private void ReportDrops()
    {
        long dropped = Interlocked.Read(ref _dropped);
        if (dropped == _droppedReported || Stopwatch.GetElapsedTime(_lastDropReport) < DropReportInterval)
        {
            return;
        }

        FilteringLog.EventsDropped(_logger, dropped - _droppedReported);
        _droppedReported = dropped;
        _lastDropReport = Stopwatch.GetTimestamp();
    }
}
