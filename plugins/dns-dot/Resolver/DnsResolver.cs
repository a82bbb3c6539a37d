using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// The query path shared by UDP and TCP: parse, rules, cache, then (asynchronously) the upstream group
/// with coalescing of identical questions, one retry on a fresh connection, serve-stale and SERVFAIL.
/// </summary>
internal sealed class DnsResolver
{
    /// <summary>Largest message on any transport, plus room for the OPT we append.</summary>
    public const int MaxMessageSize = ushort.MaxValue + DnsMessageWriter.OptSize;

    [ThreadStatic]
    private static DnsQuery? t_query;

    private readonly DnsDotMetrics _metrics;
    private readonly ILogger _logger;
    [ThreadStatic]
    private static byte[]? t_scratch;

    // A forwarded query grows by at most our OPT, an empty keepalive and padding to the next 128-byte block.
    private const int MaxQueryGrowth = DnsMessageWriter.OptSize + 4 + 4 + DnsConstants.QueryPaddingBlock - 1;

    private readonly Dictionary<ulong, UpstreamQuery> _inFlight = new();
    private readonly Security.LogThrottle _ruleFailureLog = new(TimeSpan.FromSeconds(10));
    private readonly Security.LogThrottle _unknownGroupLog = new(TimeSpan.FromSeconds(10));
    private readonly Security.LogThrottle _oversizeLog = new(TimeSpan.FromSeconds(10));
    private readonly Lock _swap = new();
    private ResolverSnapshot _snapshot;

    /// <summary>Creates the resolver.</summary>
    public DnsResolver(DnsDotOptions options, UpstreamGroup defaultGroup, IReadOnlyDictionary<string, UpstreamGroup> groups, DnsCache? cache, DnsDotMetrics metrics, ILogger logger)
    {
        _metrics = metrics;
        _logger = logger;
        _snapshot = new ResolverSnapshot(options, defaultGroup, groups, cache, null);
        metrics.ObserveCache(cache);
    }

    /// <summary>
    /// The configuration queries use: read once per query (one volatile read), replaced whole by a reload
    /// (<see cref="Swap"/>). Queries in flight finish with the snapshot they started with.
    /// </summary>
    public ResolverSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>
    /// The rule evaluator, or null for no rules. The seam for the rules component: set at start-up and on
    /// reload (a snapshot swap; queries in flight finish with the evaluator they started with).
    /// </summary>
    public IRuleEvaluator? Rules
    {
        get => Snapshot.Rules;
        set
        {
            lock (_swap)
            {
                Volatile.Write(ref _snapshot, _snapshot.WithRules(value));
            }
        }
    }

    /// <summary>The cache, when enabled.</summary>
    public DnsCache? Cache => Snapshot.Cache;

    /// <summary>
    /// Sees every answered query (query log, statistics, dnstap); null for none. Plugin-lifetime: set once at
    /// start, kept across reloads.
    /// </summary>
    public QueryLog.IQueryObserver? Observer { get; set; }

    /// <summary>
    /// Makes <paramref name="next"/> the configuration of every query that starts from now on (a reload).
    /// The rules are carried over from the current snapshot unless <paramref name="replaceRules"/>; returns
    /// the snapshot it replaced.
    /// </summary>
    public ResolverSnapshot Swap(ResolverSnapshot next, bool replaceRules)
    {
        lock (_swap)
        {
            ResolverSnapshot previous = _snapshot;
            if (!replaceRules && !ReferenceEquals(next.Rules, previous.Rules))
            {
                next = next.WithRules(previous.Rules);
            }

            Volatile.Write(ref _snapshot, next);
            _metrics.ObserveCache(next.Cache);
            return previous;
        }
    }

    /// <summary>
    /// The synchronous part: answers malformed queries, rule verdicts and cache hits into
    /// <paramref name="destination"/> (at least <see cref="MaxMessageSize"/> bytes) without allocating.
    /// </summary>
    public ResolveStep Begin(ReadOnlySpan<byte> query, NetAddress client, DnsTransport transport, int replyCap, Span<byte> destination, out int length, out PendingQuery pending)
    {
        ResolveStep step = BeginCore(query, client, transport, replyCap, destination, out length, out pending);
        if (step == ResolveStep.Answered && Observer is { } observer && pending.Info.QuestionEnd > DnsConstants.HeaderSize)
        {
            var record = new QueryLog.QueryRecord(client, transport, pending.Reason ?? "rcode", pending.Blocked, pending.CacheHit, pending.ClientGroup, null, pending.Started, pending.Finished);
            observer.OnAnswered(record, query, destination[..length]);
        }

        return step;
    }

    // The 1 KiB presentation buffer is written before it is read: zeroing it cost every query (issue 21).
    [SkipLocalsInit]
    private ResolveStep BeginCore(ReadOnlySpan<byte> query, NetAddress client, DnsTransport transport, int replyCap, Span<byte> destination, out int length, out PendingQuery pending)
    {
        long started = Stopwatch.GetTimestamp();
        ResolverSnapshot snapshot = Volatile.Read(ref _snapshot);
        pending = default;
        pending.Started = started;
        pending.Snapshot = snapshot;
        length = 0;
        DnsParseStatus status = DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
        pending.Info = info;
        pending.Transport = transport;
        pending.Client = client;
        if (status == DnsParseStatus.Ignore)
        {
            _metrics.Dropped.Add(1);
            return ResolveStep.Drop;
        }

        if (status == DnsParseStatus.BadVersion)
        {
            // RFC 6891 §6.1.3: BADVERS, with an OPT of the version we do speak (0).
            length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, DnsConstants.RcodeBadVers, destination);
            return Answered(ref pending, destination, length, query.Length);
        }

        if (status != DnsParseStatus.Ok)
        {
            // The question may be unreadable: FORMERR/NOTIMP carry only the header (RFC 1035 §4.1.1), plus an
            // OPT when the client sent one (RFC 6891 §7).
            info.QuestionEnd = DnsConstants.HeaderSize;
            length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: false,
                status == DnsParseStatus.NotImp ? DnsConstants.RcodeNotImp : DnsConstants.RcodeFormErr, destination);
            return Answered(ref pending, destination, length, query.Length);
        }

        pending.Limit = transport == DnsTransport.Udp ? Math.Min(info.UdpLimit(snapshot.Options.MaxUdpSize), Math.Max(replyCap, DnsConstants.ClassicUdpSize)) : ushort.MaxValue;
        UpstreamGroup group = snapshot.DefaultGroup;
        IRuleEvaluator? rules = snapshot.Rules;
        Filtering.FilterSnapshot? filter = snapshot.Filter;
        Clients.ClientPolicy? policy = null;
        bool forwardedByRule = false;
        bool listsDecided = false;
        if (filter is not null)
        {
            policy = filter.PolicyFor(client);
            pending.ClientGroup = policy.Name;
        }

        // The name's text only for what reads it: rules, local records, this client's lists. Without them (a plain
        // caching resolver) it was 5 % of the receive thread's user time per cache hit (issue 21's profile).
        Span<byte> presentation = stackalloc byte[DnsConstants.MaxPresentationLength];
        int presentationLength = 0;
        if (rules is not null || (filter is not null && (filter.Records is not null || policy!.Allow.Length > 0 || policy.Block.Length > 0)))
        {
            presentationLength = Math.Max(DnsName.ToPresentation(query.Slice(DnsConstants.HeaderSize, info.NameLength), presentation), 0);
        }

        if (rules is not null)
        {
            Verdict verdict;
            DnsQuery rq = t_query ??= new DnsQuery();
            rq.Reset(presentation[..presentationLength], (DnsType)info.QType, client, transport);
            try
            {
                verdict = rules.Evaluate(rq);
            }
            catch (Exception e)
            {
                // Per query: at most one line per 10 s, whatever a client sends.
                if (_ruleFailureLog.TryEnter(out _))
                {
                    DnsDotLog.RuleFailed(_logger, rq.Name, e.Message);
                }

                verdict = Verdict.ServFail;
            }

            if (verdict.Kind != VerdictKind.Continue)
            {
                pending.Reason = rq.DecidedBy?.Reason ?? "rule";
            }

            switch (verdict.Kind)
            {
                case VerdictKind.Continue:
                    break;
                case VerdictKind.NxDomain when verdict.IsBlock && filter is not null:
                    if (filter.BlockingActive(policy!))
                    {
                        pending.Blocked = true;
                        length = filter.WriteBlocked(query, info, pending.Limit, pending.Reason!, destination);
                        return Answered(ref pending, destination, length, query.Length);
                    }

                    // Blocking is off for this client's group, or paused: the name resolves normally.
                    pending.Reason = policy!.Blocking ? "blocking-paused" : "upstream";
                    listsDecided = true;
                    break;
                case VerdictKind.NxDomain:
                    return Rcode(query, info, DnsConstants.RcodeNxDomain, ref pending, destination, out length);
                case VerdictKind.Refused:
                    return Rcode(query, info, DnsConstants.RcodeRefused, ref pending, destination, out length);
                case VerdictKind.ServFail:
                    return Rcode(query, info, DnsConstants.RcodeServFail, ref pending, destination, out length);
                case VerdictKind.Drop:
                    _metrics.Dropped.Add(1);
                    return ResolveStep.Drop;
                case VerdictKind.Answer:
                    length = DnsMessageWriter.WriteAddressAnswer(query, info, verdict.AnswerAddresses, verdict.Ttl, destination);
                    return Answered(ref pending, destination, length, query.Length);
                case VerdictKind.Allow:
                    listsDecided = true;
                    break;
                case VerdictKind.Forward:
                    if (verdict.Group is null || !snapshot.Groups.TryGetValue(verdict.Group, out UpstreamGroup? forwarded))
                    {
                        if (_unknownGroupLog.TryEnter(out _))
                        {
                            DnsDotLog.UnknownGroup(_logger, rq.Name, verdict.Group ?? "");
                        }

                        return Rcode(query, info, DnsConstants.RcodeServFail, ref pending, destination, out length);
                    }

                    group = forwarded;
                    forwardedByRule = true;
                    break;
            }
        }

        if (filter is not null)
        {
            ReadOnlySpan<byte> presented = presentation[..presentationLength];
            if (filter.Records?.Find(presented) is { } local)
            {
                pending.Reason = "record";
                string? outside = filter.Records.Answer(query, info, local, pending.Limit, destination, out length, out int chainEnd);
                if (outside is null)
                {
                    return Answered(ref pending, destination, length, query.Length);
                }

                // The chain leaves local data: from here on the question is its last target's (cache, upstream);
                // the splice joins the local CNAMEs and the upstream's answer for the client.
                Records.CnameSplice splice = Records.CnameSplice.Create(destination[..length], chainEnd, info, outside);
                pending.Splice = splice;
                query = splice.TargetQuery;
                info = splice.TargetInfo;
                pending.Info = info;
                listsDecided = true;
            }

            if (!listsDecided && !forwardedByRule && filter.CheckLists(policy!, presented, out bool blocked) is { } list)
            {
                pending.Reason = list.Reason;
                if (blocked)
                {
                    if (filter.BlockingActive(policy!))
                    {
                        pending.Blocked = true;
                        length = filter.WriteBlocked(query, info, pending.Limit, list.Reason, destination);
                        return Answered(ref pending, destination, length, query.Length);
                    }

                    pending.Reason = policy!.Blocking ? "blocking-paused" : "upstream";
                }
            }

            if (!forwardedByRule && policy!.Upstream is { } clientGroup)
            {
                group = clientGroup;
            }
        }

        pending.Group = group;
        ReadOnlySpan<byte> name = query.Slice(DnsConstants.HeaderSize, info.NameLength);
        pending.Key = DnsCache.Key(name, info.QType, info.QClass, info.DnssecOk, group.CacheId);
        DnsCache? cache = snapshot.Cache;
        if (cache is not null)
        {
            // The arrival time is "now" for TTL aging (whole seconds): one clock read less per query.
            long now = started;
            CacheLookup lookup = cache.TryGet(pending.Key, name, info.QType, info.QClass, info.DnssecOk, now, out CacheEntry? entry, group.CacheId);
            if (lookup is CacheLookup.Fresh or CacheLookup.FreshPrefetch)
            {
                QueryTally.CountCache(_metrics, hit: true);
                pending.CacheHit = true;
                pending.Reason ??= "cache";
                if (lookup == CacheLookup.FreshPrefetch)
                {
                    _ = PrefetchAsync(query[..info.QuestionEnd].ToArray(), pending);
                }

                if (pending.Splice is { } cachedSplice)
                {
                    Span<byte> target = Scratch();
                    int targetLength = DnsCache.WriteAnswer(entry!, stale: false, now, query, info, target, ushort.MaxValue);
                    length = cachedSplice.Complete(target[..targetLength], destination, pending.Limit);
                    return Answered(ref pending, destination, length, query.Length);
                }

                length = DnsCache.WriteAnswer(entry!, stale: false, now, query, info, destination, pending.Limit);
                return Answered(ref pending, destination, length, query.Length);
            }

            QueryTally.CountCache(_metrics, hit: false);
            pending.Stale = lookup == CacheLookup.Stale && pending.Splice is null ? entry : null;
        }

        // Never write a frame whose length its 2-byte prefix cannot say (issue 13): a query whose EDNS options
        // would carry it past 65,535 bytes once our OPT and padding are added gets FORMERR here, before any
        // connection shared by other clients sees it.
        if (info.QuestionEnd + info.OptRdataLength + MaxQueryGrowth > ushort.MaxValue &&
            DnsMessageWriter.UpstreamQueryLength(query, info, snapshot.Options.ForwardClientSubnet) > ushort.MaxValue)
        {
            if (_oversizeLog.TryEnter(out long suppressed))
            {
                DnsDotLog.OversizeQuery(_logger, client.ToString(), suppressed);
            }

            pending.Stale = null;
            return Rcode(query, info, DnsConstants.RcodeFormErr, ref pending, destination, out length);
        }

        return ResolveStep.Upstream;
    }

    /// <summary>
    /// Prepares the upstream query for a client query <see cref="Begin"/> sent upstream: a pooled
    /// <see cref="UpstreamQuery"/> holding the framed query (our OPT, padding, keepalive; RFC 8467, RFC 7828).
    /// Hand it to <see cref="Forward"/>.
    /// </summary>
    public UpstreamQuery CreateQuery(ReadOnlySpan<byte> query, in PendingQuery pending, IAnswerSink sink, long started)
    {
        ResolverSnapshot snapshot = pending.Snapshot ?? Snapshot;
        if (pending.Splice is { } splice)
        {
            query = splice.TargetQuery;
        }

        UpstreamQuery upstream = UpstreamQuery.Rent(2 + query.Length + 256);
        int length = DnsMessageWriter.WriteUpstreamQuery(query, pending.Info, upstream.Frame.AsSpan(2), snapshot.Options.ForwardClientSubnet);
        BinaryPrimitives.WriteUInt16BigEndian(upstream.Frame, (ushort)length);
        upstream.FrameLength = 2 + length;
        upstream.Info = pending.Info;
        upstream.Limit = pending.Limit;
        upstream.Key = pending.Key;
        upstream.Stale = pending.Stale;
        upstream.Group = pending.Group;
        upstream.Transport = pending.Transport;
        upstream.Background = pending.Background;
        upstream.Client = pending.Client;
        upstream.Reason = pending.Reason;
        upstream.ClientGroup = pending.ClientGroup;
        upstream.Splice = pending.Splice;
        upstream.RequestSize = query.Length;
        upstream.Started = started;
        upstream.Deadline = started + snapshot.QueryTimeoutTicks;
        upstream.Snapshot = snapshot;
        upstream.Resolver = this;
        upstream.Sink = sink;
        return upstream;
    }

    /// <summary>
    /// Sends the query to its group, unless an identical question is already on its way (then it waits for
    /// that answer: request coalescing). The answer — upstream, stale (RFC 8767) or SERVFAIL, never silence —
    /// reaches the query's sink; then the query returns to its pool.
    /// </summary>
    public void Forward(UpstreamQuery query)
    {
        if (query.Splice is not null)
        {
            // Its answer is built for one client's question: never shared with identical target questions.
            SendAttempt(query);
            return;
        }

        lock (_inFlight)
        {
            if (_inFlight.TryGetValue(query.Key, out UpstreamQuery? leader))
            {
                query.Next = leader.Followers;
                leader.Followers = query;
                return;
            }

            _inFlight.Add(query.Key, query);
        }

        SendAttempt(query);
    }

    /// <summary>
    /// Resolves through the group and returns the answer in a buffer rented from <see cref="ArrayPool{T}.Shared"/>
    /// (the caller sends it and returns the buffer). Never throws for network reasons: SERVFAIL instead.
    /// For TCP clients and background refreshes; UDP clients use <see cref="Forward"/> directly.
    /// </summary>
    public Task<UpstreamAnswer> ResolveUpstreamAsync(ReadOnlyMemory<byte> query, PendingQuery pending, CancellationToken cancellationToken)
    {
        var completion = new TaskCompletionSource<UpstreamAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        UpstreamQuery upstream = CreateQuery(query.Span, pending, TaskAnswerSink.Instance, Stopwatch.GetTimestamp());
        upstream.State = completion;
        Forward(upstream);
        return completion.Task;
    }

    private void SendAttempt(UpstreamQuery query)
    {
        DnsUpstream? upstream = query.Group.Pick(query.Attempt == 0 ? null : query.First, Stopwatch.GetTimestamp());
        if (upstream is null)
        {
            Complete(query);
            return;
        }

        if (query.Attempt == 0)
        {
            query.First = upstream;
        }

        upstream.Send(query, freshConnection: query.Attempt > 0);
    }

    /// <summary>The attempt failed: one retry on a fresh connection, preferably to another upstream (RFC 7766 §6.2.1), then give up.</summary>
    internal void OnUpstreamFailure(UpstreamQuery query)
    {
        if (query.Attempt == 0 && Stopwatch.GetTimestamp() < query.Deadline)
        {
            query.Attempt = 1;
            _metrics.UpstreamRetries.Add(1);
            SendAttempt(query);
            return;
        }

        Complete(query);
    }

    /// <summary>
    /// A matched upstream answer in the connection's read buffer: stored in the cache, shared with coalesced
    /// queries, and turned into the client's answer in place (zero-copy) when it fits.
    /// </summary>
    internal void OnUpstreamAnswer(UpstreamQuery query, Span<byte> message, in DnsResponseInfo response)
    {
        if (Observer is { WantsUpstreamMessages: true } observer && query.Upstream is { Endpoint.Current: { } remote } answering)
        {
            observer.OnUpstreamExchange(answering.Name, remote, query.Message, message[..response.Length], query.SentAt, Stopwatch.GetTimestamp());
        }

        DnsRequestInfo info = query.Info;
        int bodyLength = DnsMessageWriter.StripOpt(message, response);
        UpstreamQuery? followers = TakeFollowers(query);
        ReadOnlySpan<byte> name = query.Name;
        CacheEntry? published = null;
        ResolverSnapshot snapshot = query.Snapshot;
        if (snapshot.Cache is { } cache)
        {
            published = cache.Store(query.Key, message[..bodyLength], name, info.QType, info.QClass, info.DnssecOk, response.ExtendedRcode, Stopwatch.GetTimestamp(), query.Group.CacheId);
        }
        else if (followers is not null)
        {
            published = DnsCache.CreateEntry(message[..bodyLength], name, info.QType, info.QClass, info.DnssecOk, response.ExtendedRcode, Stopwatch.GetTimestamp(), snapshot.Options.Cache, query.Group.CacheId);
        }

        if (query.Splice is { } splice)
        {
            Span<byte> joined = Scratch();
            int joinedLength = splice.Complete(message[..bodyLength], joined, query.Limit);
            Deliver(query, joined[..joinedLength]);
            AnswerFollowers(followers, published);
            return;
        }

        Span<byte> target = message;
        if (bodyLength + DnsMessageWriter.OptSize > message.Length)
        {
            // No room behind the body for our OPT (the upstream sent none): finish it in the scratch buffer.
            target = Scratch();
            message[..bodyLength].CopyTo(target);
        }

        int length = DnsMessageWriter.FinishAnswer(target, bodyLength, query.Message, info, ReadOnlySpan<int>.Empty, 0, response.ExtendedRcode, query.Limit);
        Deliver(query, target[..length]);
        AnswerFollowers(followers, published);
    }

    private void Complete(UpstreamQuery query)
    {
        UpstreamQuery? followers = TakeFollowers(query);
        Fail(query);
        AnswerFollowers(followers, null);
    }

    private UpstreamQuery? TakeFollowers(UpstreamQuery leader)
    {
        lock (_inFlight)
        {
            if (_inFlight.TryGetValue(leader.Key, out UpstreamQuery? registered) && ReferenceEquals(registered, leader))
            {
                _inFlight.Remove(leader.Key);
            }

            UpstreamQuery? followers = leader.Followers;
            leader.Followers = null;
            return followers;
        }
    }

    private void AnswerFollowers(UpstreamQuery? follower, CacheEntry? shared)
    {
        while (follower is not null)
        {
            UpstreamQuery next = follower.Next!;
            follower.Next = null;
            DnsRequestInfo info = follower.Info;
            if (shared is not null && shared.Type == info.QType && shared.DnssecOk == info.DnssecOk && shared.Group == follower.Group.CacheId && DnsName.EqualsIgnoreCase(shared.Name, follower.Name))
            {
                Span<byte> buffer = Scratch();
                int length = DnsCache.WriteAnswer(shared, stale: false, shared.StoredAt, follower.Message, info, buffer, follower.Limit);
                Deliver(follower, buffer[..length]);
            }
            else
            {
                Fail(follower);
            }

            follower = next;
        }
    }

    // No upstream answered: a stale answer if we have one (RFC 8767), SERVFAIL otherwise — never silence.
    private void Fail(UpstreamQuery query)
    {
        Span<byte> buffer = Scratch();
        int length;
        if (query.Splice is { } splice)
        {
            length = splice.Fail(buffer);
        }
        else if (query.Stale is { } stale)
        {
            _metrics.CacheStale.Add(1);
            length = DnsCache.WriteAnswer(stale, stale: true, Stopwatch.GetTimestamp(), query.Message, query.Info, buffer, query.Limit);
        }
        else
        {
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                DnsDotLog.UpstreamTimeout(_logger, Encoding.ASCII.GetString(query.Name));
            }

            length = DnsMessageWriter.WriteRcode(query.Message, query.Info, echoQuestion: true, DnsConstants.RcodeServFail, buffer);
        }

        Deliver(query, buffer[..length]);
    }

    private void Deliver(UpstreamQuery query, ReadOnlySpan<byte> answer)
    {
        if (!query.Background)
        {
            long finished = Stopwatch.GetTimestamp();
            CountAnswer(query.Transport, answer[3] & DnsConstants.RcodeMask, query.RequestSize, answer.Length, query.Started, finished);
            if (Observer is { } observer)
            {
                var record = new QueryLog.QueryRecord(query.Client, query.Transport, query.Reason ?? "upstream", false, false, query.ClientGroup, query.Upstream?.Name, query.Started, finished);
                observer.OnAnswered(record, query.Splice is { } splice ? splice.ClientQuery : query.Message, answer);
            }
        }

        try
        {
            query.Sink.OnAnswer(query, answer);
        }
        finally
        {
            query.Return();
        }
    }

    private static byte[] Scratch() => t_scratch ??= new byte[MaxMessageSize];

    private async Task PrefetchAsync(byte[] query, PendingQuery pending)
    {
        pending.Stale = null;
        pending.Splice = null;
        pending.Background = true;
        UpstreamAnswer answer = await ResolveUpstreamAsync(query, pending, CancellationToken.None).ConfigureAwait(false);
        answer.Release();
    }

    /// <summary>Completes the task of <see cref="ResolveUpstreamAsync"/> with a copy of the answer.</summary>
    private sealed class TaskAnswerSink : IAnswerSink
    {
        public static readonly TaskAnswerSink Instance = new();

        public void OnAnswer(UpstreamQuery query, ReadOnlySpan<byte> answer)
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(answer.Length, 1));
            answer.CopyTo(buffer);
            ((TaskCompletionSource<UpstreamAnswer>)query.State!).TrySetResult(new UpstreamAnswer(buffer, answer.Length));
        }
    }

    private ResolveStep Rcode(ReadOnlySpan<byte> query, in DnsRequestInfo info, int rcode, ref PendingQuery pending, Span<byte> destination, out int length)
    {
        length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, rcode, destination);
        return Answered(ref pending, destination, length, query.Length);
    }

    // One clock read for the answer's time, shared by the latency histogram and the query log record: a cache hit
    // read the clock three times, and each read is a visible share of its user-space cost (issue 21's profile).
    private ResolveStep Answered(ref PendingQuery pending, ReadOnlySpan<byte> answer, int length, int requestSize)
    {
        pending.Finished = Stopwatch.GetTimestamp();
        CountAnswer(pending.Transport, length > 3 ? answer[3] & DnsConstants.RcodeMask : 0, requestSize, length, pending.Started, pending.Finished);
        return ResolveStep.Answered;
    }

    private void CountAnswer(DnsTransport transport, int rcode, int requestSize, int responseSize, long started, long finished)
    {
        QueryTally.Count(_metrics, transport, rcode);
        _metrics.RequestDuration.Record(Stopwatch.GetElapsedTime(started, finished).TotalSeconds);
        _metrics.RequestSize.Record(requestSize);
        _metrics.ResponseSize.Record(responseSize);
    }
}
