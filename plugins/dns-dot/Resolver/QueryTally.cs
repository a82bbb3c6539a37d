using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// Answers and cache lookups counted on one thread during a <see cref="DatagramBatch"/>, added to <c>dns.queries</c>
/// once per (transport, rcode) and to <c>dns.cache.hits</c> / <c>dns.cache.misses</c> once when the batch ends: a
/// counter update through the meter costs more than a cache hit's own work, and a receive batch is mostly the same
/// transport, rcode and cache outcome.
/// </summary>
internal sealed class QueryTally : IDatagramBatchParticipant
{
    [ThreadStatic]
    private static QueryTally? t_current;

    private readonly long[] _counts = new long[Transports.Length * 16];
    private long _cacheHits;
    private long _cacheMisses;
    private DnsDotMetrics? _metrics;
    private bool _pending;

    /// <summary>Counts one answer now, or at the end of the current thread's batch when one is open.</summary>
    public static void Count(DnsDotMetrics metrics, DnsTransport transport, int rcode)
    {
        if (Batched(metrics) is { } tally)
        {
            tally._counts[((int)transport * 16) + (rcode & 0xF)]++;
        }
        else
        {
            Add(metrics, transport, rcode, 1);
        }
    }

    /// <summary>Counts one cache lookup (a fresh answer, or none) now, or at the end of the current thread's batch.</summary>
    public static void CountCache(DnsDotMetrics metrics, bool hit)
    {
        if (Batched(metrics) is { } tally)
        {
            if (hit)
            {
                tally._cacheHits++;
            }
            else
            {
                tally._cacheMisses++;
            }
        }
        else
        {
            (hit ? metrics.CacheHits : metrics.CacheMisses).Add(1);
        }
    }

    /// <inheritdoc/>
    public void FlushBatch()
    {
        _pending = false;
        if (_metrics is not { } metrics)
        {
            return;
        }

        for (int i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] != 0)
            {
                long count = _counts[i];
                _counts[i] = 0;
                Add(metrics, (DnsTransport)(i / 16), i & 0xF, count);
            }
        }

        if (_cacheHits != 0)
        {
            metrics.CacheHits.Add(_cacheHits);
            _cacheHits = 0;
        }

        if (_cacheMisses != 0)
        {
            metrics.CacheMisses.Add(_cacheMisses);
            _cacheMisses = 0;
        }
    }

    // The current thread's tally for `metrics`, enlisted in the open batch; null when no batch is open (count now).
    private static QueryTally? Batched(DnsDotMetrics metrics)
    {
        if (!DatagramBatch.IsOpen)
        {
            return null;
        }

        QueryTally tally = t_current ??= new QueryTally();
        if (!ReferenceEquals(tally._metrics, metrics))
        {
            tally.FlushBatch();
            tally._metrics = metrics;
        }

        if (!tally._pending)
        {
            tally._pending = true;
            DatagramBatch.Enlist(tally);
        }

        return tally;
    }

    private static void Add(DnsDotMetrics metrics, DnsTransport transport, int rcode, long count) =>
        metrics.Queries.Add(count, Transports[(int)transport], new KeyValuePair<string, object?>("rcode", RcodeNames[rcode & 0xF]));

    private static readonly string[] RcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15"];

    // Indexed by DnsTransport.
    private static readonly KeyValuePair<string, object?>[] Transports =
    [
        new("transport", "udp"), new("transport", "tcp"), new("transport", "tls"), new("transport", "https"), new("transport", "internal"),
    ];
}
