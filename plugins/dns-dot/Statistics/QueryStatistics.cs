using System.Buffers.Binary;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Statistics;

/// <summary>
/// Statistics for people, in bounded memory: per 10-second slot for the last hour (queries, blocked, cache
/// hits, a latency histogram) and per 10-minute window the most queried names, clients and blocked names (each
/// capped at <see cref="TopKeys"/> keys). Fed from the query event queue on its writer thread; read by the admin
/// API under the same lock.
/// </summary>
internal sealed class QueryStatistics : IQueryEventSink
{
    /// <summary>Slots of <see cref="SlotSeconds"/>: one hour.</summary>
    public const int Slots = 360;

    /// <summary>Seconds per slot.</summary>
    public const int SlotSeconds = 10;

    /// <summary>Distinct names / clients kept per 10-minute window.</summary>
    public const int TopKeys = 4096;

    private const int Windows = 6;
    private const int WindowSeconds = 600;

    private readonly Lock _lock = new();
    private readonly Slot[] _slots = new Slot[Slots];
    private readonly Window[] _windows = new Window[Windows];
    private readonly Func<DateTime> _clock;
    private long _total;

    public QueryStatistics(Func<DateTime>? clock = null)
    {
        _clock = clock ?? (static () => DateTime.UtcNow);
        for (int i = 0; i < Slots; i++)
        {
            _slots[i] = new Slot();
        }

        for (int i = 0; i < Windows; i++)
        {
            _windows[i] = new Window();
        }
    }

    /// <summary>Anonymise clients in the top list (<c>queryLog.anonymize</c>).</summary>
    public bool Anonymize { get; set; }

    /// <inheritdoc/>
    public void OnEvent(QueryEvent queryEvent)
    {
        if (queryEvent.IsUpstream)
        {
            return;
        }

        QueryRecord record = queryEvent.Record;
        long second = new DateTimeOffset(EventClock.ToUtc(record.Started)).ToUnixTimeSeconds();
        double latency = EventClock.Milliseconds(record.Started, record.Finished);
        bool hasName = TryQuestionKey(queryEvent.Query, out ulong hash);
        lock (_lock)
        {
            _total++;
            Slot slot = SlotFor(second);
            slot.Queries++;
            slot.Latency[LatencyHistogram.Bucket(latency)]++;
            if (record.Blocked)
            {
                slot.Blocked++;
            }

            if (record.CacheHit)
            {
                slot.CacheHits++;
            }

            Window window = WindowFor(second);
            NetAddress client = Anonymize ? new IpPrefix(record.Client, record.Client.IsV4 ? 24 : 48).Network : record.Client;
            window.Clients.Add(client, client, static (address, destination) => MessageText.AddressText(address, destination));
            if (hasName)
            {
                window.Names.Add(hash, queryEvent, QuestionLabel);
                if (record.Blocked)
                {
                    window.Blocked.Add(hash, queryEvent, QuestionLabel);
                }
            }
        }
    }

    /// <inheritdoc/>
    public void OnBatchEnd()
    {
    }

    /// <summary>The figures of the last minute and hour, as of now.</summary>
    public StatisticsView Snapshot()
    {
        long now = new DateTimeOffset(_clock()).ToUnixTimeSeconds();
        long currentSlot = now / SlotSeconds;
        var series = new List<SeriesPoint>(Slots);
        var minute = new long[LatencyHistogram.Buckets];
        var hour = new long[LatencyHistogram.Buckets];
        long lastMinute = 0;
        long lastHour = 0;
        long blocked = 0;
        long cacheHits = 0;
        var names = new Dictionary<string, long>(StringComparer.Ordinal);
        var clients = new Dictionary<string, long>(StringComparer.Ordinal);
        var blockedNames = new Dictionary<string, long>(StringComparer.Ordinal);
        lock (_lock)
        {
            for (long index = currentSlot - Slots + 1; index <= currentSlot; index++)
            {
                Slot slot = _slots[(int)(index % Slots)];
                bool live = slot.Index == index;
                long queries = live ? slot.Queries : 0;
                var time = DateTimeOffset.FromUnixTimeSeconds(index * SlotSeconds).UtcDateTime;
                double p50 = live ? LatencyHistogram.Percentile(slot.Latency, 0.5) : 0;
                double p99 = live ? LatencyHistogram.Percentile(slot.Latency, 0.99) : 0;
                series.Add(new SeriesPoint(time, queries, live ? slot.Blocked : 0, live ? slot.CacheHits : 0, p50, p99));
                if (!live)
                {
                    continue;
                }

                lastHour += slot.Queries;
                blocked += slot.Blocked;
                cacheHits += slot.CacheHits;
                Add(hour, slot.Latency);

                // The last minute: the six most recent slots (the current one is partly filled).
                if (index > currentSlot - 60 / SlotSeconds)
                {
                    lastMinute += slot.Queries;
                    Add(minute, slot.Latency);
                }
            }

            long currentWindow = now / WindowSeconds;
            foreach (Window window in _windows)
            {
                if (window.Index > currentWindow - Windows)
                {
                    window.Names.AddTo(names);
                    window.Clients.AddTo(clients);
                    window.Blocked.AddTo(blockedNames);
                }
            }

            return new StatisticsView(
                _total,
                lastMinute,
                lastHour,
                new Percentiles(LatencyHistogram.Percentile(minute, 0.5), LatencyHistogram.Percentile(minute, 0.9), LatencyHistogram.Percentile(minute, 0.99)),
                new Percentiles(LatencyHistogram.Percentile(hour, 0.5), LatencyHistogram.Percentile(hour, 0.9), LatencyHistogram.Percentile(hour, 0.99)),
                lastHour == 0 ? 0 : Math.Round((double)cacheHits / lastHour, 4),
                lastHour == 0 ? 0 : Math.Round((double)blocked / lastHour, 4),
                series,
                Top(names),
                Top(clients),
                Top(blockedNames));
        }
    }

    private static List<KeyValuePair<string, long>> Top(Dictionary<string, long> counts)
    {
        var list = counts.ToList();
        list.Sort(static (a, b) => b.Value != a.Value ? b.Value.CompareTo(a.Value) : string.CompareOrdinal(a.Key, b.Key));
        return list.Count > 20 ? list.GetRange(0, 20) : list;
    }

    private static void Add(long[] total, long[] counts)
    {
        for (int i = 0; i < counts.Length; i++)
        {
            total[i] += counts[i];
        }
    }

    // A name's text (the event's question in presentation form), written only when its key is new.
    private static readonly TopCounter<ulong>.LabelWriter<QueryEvent> QuestionLabel = static (queryEvent, destination) =>
    {
        if (!queryEvent.TryGetQuestion(out ReadOnlySpan<byte> name, out _))
        {
            return 0;
        }

        int length = Math.Min(name.Length, destination.Length);
        name[..length].CopyTo(destination);
        return length;
    };

    /// <summary>
    /// The top-names key of a query's question: FNV-1a over its lower-cased wire form, read in place in one pass that
    /// also checks it as <see cref="DnsName.TryExpand"/> would. The presentation form the counters show is a function of
    /// the lower-cased wire name, so the same names share a key; but the text is now made only for a key the counter
    /// does not hold yet, not for every query (issue 21's cache-hit profile: expanding each question to text was 40 %
    /// of the statistics' cost). False exactly when <see cref="MessageText.TryQuestion"/> is: no question, or one that
    /// cannot be read.
    /// </summary>
    internal static bool TryQuestionKey(ReadOnlySpan<byte> message, out ulong hash)
    {
        hash = 0xcbf29ce484222325;
        if (message.Length < DnsConstants.HeaderSize + 5 || BinaryPrimitives.ReadUInt16BigEndian(message[4..]) == 0)
        {
            return false;
        }

        int position = DnsConstants.HeaderSize;
        int label;
        do
        {
            if (position >= message.Length)
            {
                return false;
            }

            // Above 63: a pointer, which a question's name can never hold (it must go below the label it is in, and
            // below the question is only the header: RFC 9267 §2), or an obsolete extended label type.
            label = message[position];
            if (label > 63 || position - DnsConstants.HeaderSize + 1 + label > DnsConstants.MaxNameLength || position + 1 + label > message.Length)
            {
                return false;
            }

            hash = (hash ^ (uint)label) * 0x100000001b3;
            for (int i = position + 1; i <= position + label; i++)
            {
                hash = (hash ^ DnsName.ToLower(message[i])) * 0x100000001b3;
            }

            position += 1 + label;
        }
        while (label != 0);

        // The type and class follow the name.
        return position + 4 <= message.Length;
    }

    private Slot SlotFor(long second)
    {
        long index = second / SlotSeconds;
        Slot slot = _slots[(int)(index % Slots)];
        if (slot.Index != index)
        {
            slot.Reset(index);
        }

        return slot;
    }

    private Window WindowFor(long second)
    {
        long index = second / WindowSeconds;
        Window window = _windows[(int)(index % Windows)];
        if (window.Index != index)
        {
            window.Reset(index);
        }

        return window;
    }

    private sealed class Slot
    {
        public long Index = -1;
        public long Queries;
        public long Blocked;
        public long CacheHits;
        public long[] Latency = new long[LatencyHistogram.Buckets];

        public void Reset(long index)
        {
            Index = index;
            Queries = 0;
            Blocked = 0;
            CacheHits = 0;
            Array.Clear(Latency);
        }
    }

    private sealed class Window
    {
        public long Index = -1;
        public TopCounter<ulong> Names = new(TopKeys);
        public TopCounter<NetAddress> Clients = new(TopKeys);
        public TopCounter<ulong> Blocked = new(TopKeys);

        public void Reset(long index)
        {
            Index = index;
            Names.Clear();
            Clients.Clear();
            Blocked.Clear();
        }
    }
}

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed record Percentiles(double P50, double P90, double P99);

/// <summary>One 10-second point of the series.</summary>
internal sealed record SeriesPoint(DateTime Time, long Queries, long Blocked, long CacheHits, double P50Ms, double P99Ms);

/// <summary>What <see cref="QueryStatistics.Snapshot"/> returns.</summary>
internal sealed record StatisticsView(long Total, long LastMinute, long LastHour, Percentiles OneMinute, Percentiles OneHour, double CacheHitRatio, double BlockedRatio,
    IReadOnlyList<SeriesPoint> Series, IReadOnlyList<KeyValuePair<string, long>> TopNames, IReadOnlyList<KeyValuePair<string, long>> TopClients, IReadOnlyList<KeyValuePair<string, long>> TopBlocked);
