using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// Answers counted on one thread during a <see cref="DatagramBatch"/>, added to <c>dns.queries</c> once per
/// (transport, rcode) when the batch ends: a tagged counter update costs more than a cache hit's own work,
/// and a receive batch is mostly the same transport and rcode.
/// </summary>
internal sealed class QueryTally : IDatagramBatchParticipant
{
    [ThreadStatic]
    private static QueryTally? t_current;

    private readonly long[] _counts = new long[Transports.Length * 16];
    private DnsDotMetrics? _metrics;
    private bool _pending;

    /// <summary>Counts one answer now, or at the end of the current thread's batch when one is open.</summary>
    public static void Count(DnsDotMetrics metrics, DnsTransport transport, int rcode)
    {
        if (!DatagramBatch.IsOpen)
        {
            Add(metrics, transport, rcode, 1);
            return;
        }

        QueryTally tally = t_current ??= new QueryTally();
        if (!ReferenceEquals(tally._metrics, metrics))
        {
            tally.FlushBatch();
            tally._metrics = metrics;
        }

        tally._counts[((int)transport * 16) + (rcode & 0xF)]++;
        if (!tally._pending)
        {
            tally._pending = true;
            DatagramBatch.Enlist(tally);
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
