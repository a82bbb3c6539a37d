using System.Buffers;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// One client query on its way upstream: the framed upstream query, what the answer needs (client id, EDNS,
/// size limit), its deadlines and where the answer goes. Pooled: the forwarding path allocates nothing per
/// query — no Task, no TaskCompletionSource, no CancellationTokenSource (timeouts are a periodic sweep of
/// the connections' pending tables).
/// </summary>
internal sealed class UpstreamQuery
{
    /// <summary>Frames up to this size use the object's own buffer; larger ones rent one.</summary>
    private const int OwnFrameSize = 1024;

    // A bounded free list; beyond it objects are left to the GC (only after bursts bigger than the pool).
    private const int PoolCapacity = 16384;
    private static readonly Lock PoolLock = new();
    private static readonly UpstreamQuery[] Free = new UpstreamQuery[PoolCapacity];
    private static int s_freeCount;

    private readonly byte[] _ownFrame = new byte[OwnFrameSize];

    /// <summary>The 2-byte length prefix and the query sent upstream (its id is written per connection).</summary>
    public byte[] Frame = [];

    /// <summary>Bytes of <see cref="Frame"/> in use, prefix included.</summary>
    public int FrameLength;

    /// <summary>The client's query as parsed (id, flags, EDNS); its question is the frame's question.</summary>
    public DnsRequestInfo Info;

    /// <summary>Answer size limit (the client's UDP size, or 65535 for TCP).</summary>
    public int Limit;

    /// <summary>The cache / coalescing key.</summary>
    public ulong Key;

    /// <summary>An expired entry to serve if nothing answers (RFC 8767).</summary>
    public CacheEntry? Stale;

    /// <summary>The configuration the query started with (where its answer is cached).</summary>
    public ResolverSnapshot Snapshot = null!;

    /// <summary>The upstream group to ask.</summary>
    public UpstreamGroup Group = null!;

    /// <summary>How the client asked.</summary>
    public DnsTransport Transport;

    /// <summary>A background refresh: not counted as a client query.</summary>
    public bool Background;

    /// <summary>The client's address (query log, statistics, dnstap).</summary>
    public Gateway.Sdk.Networking.NetAddress Client;

    /// <summary>What decided to send it upstream ("upstream", or the rule/list that forwarded or allowed it).</summary>
    public string? Reason;

    /// <summary>The client's <c>clients:</c> group, or null.</summary>
    public string? ClientGroup;

    /// <summary>A local CNAME chain the answer completes (the frame asks for the chain's last target), or null.</summary>
    public Records.CnameSplice? Splice;

    /// <summary>Size of the client's query (metrics).</summary>
    public int RequestSize;

    /// <summary>When the client's query arrived (Stopwatch ticks).</summary>
    public long Started;

    /// <summary>When the whole query gives up (Stopwatch ticks).</summary>
    public long Deadline;

    /// <summary>When the current attempt gives up (Stopwatch ticks).</summary>
    public long AttemptDeadline;

    /// <summary>When the current attempt was sent (Stopwatch ticks).</summary>
    public long SentAt;

    /// <summary>0 for the first attempt, 1 for the retry on a fresh connection.</summary>
    public int Attempt;

    /// <summary>The upstream of the first attempt (the retry prefers another).</summary>
    public DnsUpstream? First;

    /// <summary>The upstream of the current attempt.</summary>
    public DnsUpstream? Upstream;

    /// <summary>The resolver that completes it.</summary>
    public DnsResolver Resolver = null!;

    /// <summary>Where the answer goes.</summary>
    public IAnswerSink Sink = null!;

    /// <summary>The UDP client to answer, when <see cref="Sink"/> is the datagram handler.</summary>
    public DatagramRequest Datagram;

    /// <summary>Sink-specific state.</summary>
    public object? State;

    /// <summary>Identical questions waiting for this one (request coalescing), guarded by the resolver's lock.</summary>
    public UpstreamQuery? Followers;

    /// <summary>The next follower in the list.</summary>
    public UpstreamQuery? Next;

    /// <summary>The question name in wire form (inside the frame).</summary>
    public ReadOnlySpan<byte> Name => Frame.AsSpan(2 + DnsConstants.HeaderSize, Info.NameLength);

    /// <summary>The upstream query message (the frame without its prefix); its question is the client's, byte for byte.</summary>
    public Span<byte> Message => Frame.AsSpan(2, FrameLength - 2);

    /// <summary>Takes an object from the pool, with a frame buffer of at least <paramref name="frameSize"/> bytes.</summary>
    public static UpstreamQuery Rent(int frameSize)
    {
        UpstreamQuery? query = null;
        lock (PoolLock)
        {
            if (s_freeCount > 0)
            {
                query = Free[--s_freeCount];
                Free[s_freeCount] = null!;
            }
        }

        query ??= new UpstreamQuery();
        query.Frame = frameSize <= OwnFrameSize ? query._ownFrame : ArrayPool<byte>.Shared.Rent(frameSize);
        return query;
    }

    /// <summary>Clears the object and returns it to the pool.</summary>
    public void Return()
    {
        if (!ReferenceEquals(Frame, _ownFrame))
        {
            ArrayPool<byte>.Shared.Return(Frame);
        }

        Frame = [];
        Stale = null;
        Group = null!;
        Snapshot = null!;
        First = null;
        Upstream = null;
        Resolver = null!;
        Sink = null!;
        Datagram = default;
        State = null;
        Followers = null;
        Next = null;
        Attempt = 0;
        Background = false;
        Reason = null;
        ClientGroup = null;
        Splice = null;
        lock (PoolLock)
        {
            if (s_freeCount < PoolCapacity)
            {
                Free[s_freeCount++] = this;
            }
        }
    }
}
