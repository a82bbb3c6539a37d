using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
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

    private readonly DnsDotOptions _options;
    private readonly UpstreamGroup _defaultGroup;
    private readonly IReadOnlyDictionary<string, UpstreamGroup> _groups;
    private readonly DnsCache? _cache;
    private readonly DnsDotMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Dictionary<ulong, InFlightQuestion> _inFlight = new();
    private readonly TimeSpan _queryTimeout;

    /// <summary>Creates the resolver.</summary>
    public DnsResolver(DnsDotOptions options, UpstreamGroup defaultGroup, IReadOnlyDictionary<string, UpstreamGroup> groups, DnsCache? cache, DnsDotMetrics metrics, ILogger logger)
    {
        _options = options;
        _defaultGroup = defaultGroup;
        _groups = groups;
        _cache = cache;
        _metrics = metrics;
        _logger = logger;
        _queryTimeout = TimeSpan.FromMilliseconds(options.QueryTimeoutMs);
    }

    /// <summary>
    /// The rule evaluator, or null for no rules. The seam for the rules component: set at start-up and on
    /// reload (a reference swap; queries in flight finish with the evaluator they started with).
    /// </summary>
    public IRuleEvaluator? Rules { get; set; }

    /// <summary>The cache, when enabled.</summary>
    public DnsCache? Cache => _cache;

    /// <summary>
    /// The synchronous part: answers malformed queries, rule verdicts and cache hits into
    /// <paramref name="destination"/> (at least <see cref="MaxMessageSize"/> bytes) without allocating.
    /// </summary>
    public ResolveStep Begin(ReadOnlySpan<byte> query, NetAddress client, DnsTransport transport, int replyCap, Span<byte> destination, out int length, out PendingQuery pending)
    {
        pending = default;
        length = 0;
        DnsParseStatus status = DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
        pending.Info = info;
        pending.Transport = transport;
        if (status == DnsParseStatus.Ignore)
        {
            _metrics.Dropped.Add(1);
            return ResolveStep.Drop;
        }

        if (status != DnsParseStatus.Ok)
        {
            // The question may be unreadable: FORMERR/NOTIMP carry only the header (RFC 1035 §4.1.1).
            info.QuestionEnd = DnsConstants.HeaderSize;
            info.HasOpt = false;
            length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: false,
                status == DnsParseStatus.NotImp ? DnsConstants.RcodeNotImp : DnsConstants.RcodeFormErr, destination);
            return Answered(transport, destination, length);
        }

        pending.Limit = transport == DnsTransport.Udp ? Math.Min(info.UdpLimit(_options.MaxUdpSize), Math.Max(replyCap, DnsConstants.ClassicUdpSize)) : ushort.MaxValue;
        UpstreamGroup group = _defaultGroup;
        IRuleEvaluator? rules = Rules;
        if (rules is not null)
        {
            Verdict verdict;
            DnsQuery rq = t_query ??= new DnsQuery();
            Span<byte> presentation = stackalloc byte[DnsConstants.MaxPresentationLength];
            int presentationLength = DnsName.ToPresentation(query.Slice(DnsConstants.HeaderSize, info.NameLength), presentation);
            rq.Reset(presentation[..Math.Max(presentationLength, 0)], (DnsType)info.QType, client, transport);
            try
            {
                verdict = rules.Evaluate(rq);
            }
            catch (Exception e)
            {
                DnsDotLog.RuleFailed(_logger, rq.Name, e.Message);
                verdict = Verdict.ServFail;
            }

            switch (verdict.Kind)
            {
                case VerdictKind.Continue:
                    break;
                case VerdictKind.NxDomain:
                    return Rcode(query, info, DnsConstants.RcodeNxDomain, transport, destination, out length);
                case VerdictKind.Refused:
                    return Rcode(query, info, DnsConstants.RcodeRefused, transport, destination, out length);
                case VerdictKind.ServFail:
                    return Rcode(query, info, DnsConstants.RcodeServFail, transport, destination, out length);
                case VerdictKind.Drop:
                    _metrics.Dropped.Add(1);
                    return ResolveStep.Drop;
                case VerdictKind.Answer:
                    length = DnsMessageWriter.WriteAddressAnswer(query, info, verdict.AnswerAddresses, verdict.Ttl, destination);
                    return Answered(transport, destination, length);
                case VerdictKind.Forward:
                    if (verdict.Group is null || !_groups.TryGetValue(verdict.Group, out UpstreamGroup? forwarded))
                    {
                        DnsDotLog.UnknownGroup(_logger, rq.Name, verdict.Group ?? "");
                        return Rcode(query, info, DnsConstants.RcodeServFail, transport, destination, out length);
                    }

                    group = forwarded;
                    break;
            }
        }

        pending.Group = group;
        ReadOnlySpan<byte> name = query.Slice(DnsConstants.HeaderSize, info.NameLength);
        pending.Key = DnsCache.Key(name, info.QType, info.QClass, info.DnssecOk);
        if (_cache is not null)
        {
            long now = Stopwatch.GetTimestamp();
            CacheLookup lookup = _cache.TryGet(pending.Key, name, info.QType, info.QClass, info.DnssecOk, now, out CacheEntry? entry);
            if (lookup is CacheLookup.Fresh or CacheLookup.FreshPrefetch)
            {
                _metrics.CacheHits.Add(1);
                if (lookup == CacheLookup.FreshPrefetch)
                {
                    _ = PrefetchAsync(query[..info.QuestionEnd].ToArray(), pending);
                }

                length = DnsCache.WriteAnswer(entry!, stale: false, now, query, info, destination, pending.Limit);
                return Answered(transport, destination, length);
            }

            _metrics.CacheMisses.Add(1);
            pending.Stale = lookup == CacheLookup.Stale ? entry : null;
        }

        return ResolveStep.Upstream;
    }

    /// <summary>
    /// Resolves through the group. Returns the answer in a buffer rented from <see cref="ArrayPool{T}.Shared"/>
    /// (the caller sends it and returns the buffer). Never throws for network reasons: SERVFAIL instead.
    /// </summary>
    public async Task<UpstreamAnswer> ResolveUpstreamAsync(ReadOnlyMemory<byte> query, PendingQuery pending, CancellationToken cancellationToken)
    {
        DnsRequestInfo info = pending.Info;
        InFlightQuestion? leader = null;
        InFlightQuestion? follower;
        lock (_inFlight)
        {
            if (_inFlight.TryGetValue(pending.Key, out follower))
            {
                follower.Followers++;
            }
            else
            {
                leader = new InFlightQuestion();
                _inFlight.Add(pending.Key, leader);
            }
        }

        if (follower is not null)
        {
            CacheEntry? shared = await WaitAsync(follower.Completion.Task, cancellationToken).ConfigureAwait(false);
            if (shared is not null && shared.Type == info.QType && shared.DnssecOk == info.DnssecOk &&
                DnsName.EqualsIgnoreCase(shared.Name, query.Span.Slice(DnsConstants.HeaderSize, info.NameLength)))
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent(shared.Body.Length + DnsMessageWriter.OptSize);
                int length = DnsCache.WriteAnswer(shared, stale: false, shared.StoredAt, query.Span, info, buffer, pending.Limit);
                return Finish(pending, buffer, length);
            }

            return Failure(query.Span, pending);
        }

        CacheEntry? published = null;
        try
        {
            UpstreamAnswer? answer = await AskGroupAsync(query, pending, cancellationToken).ConfigureAwait(false);
            if (answer is not { } upstream)
            {
                return Failure(query.Span, pending);
            }

            Span<byte> message = upstream.Buffer.AsSpan();
            ReadOnlySpan<byte> name = query.Span.Slice(DnsConstants.HeaderSize, info.NameLength);
            if (!DnsMessageReader.TryScanResponse(message[..upstream.Length], name, info.QType, Span<int>.Empty, out DnsResponseInfo response))
            {
                upstream.Release();
                return Failure(query.Span, pending);
            }

            int bodyLength = DnsMessageWriter.StripOpt(message, response);
            bool waiters;
            lock (_inFlight)
            {
                waiters = leader!.Followers > 0;
            }

            // Identical questions that arrived meanwhile share this answer (request coalescing).
            if (_cache is not null)
            {
                published = _cache.Store(pending.Key, message[..bodyLength], name, info.QType, info.QClass, info.DnssecOk, response.ExtendedRcode, Stopwatch.GetTimestamp());
            }
            else if (waiters)
            {
                published = DnsCache.CreateEntry(message[..bodyLength], name, info.QType, info.QClass, info.DnssecOk, response.ExtendedRcode, Stopwatch.GetTimestamp(), _options.Cache);
            }

            // Zero-copy: the client's answer is made in place in the upstream's receive buffer.
            int length = DnsMessageWriter.FinishAnswer(message, bodyLength, query.Span, info, ReadOnlySpan<int>.Empty, 0, response.ExtendedRcode, pending.Limit);
            return Finish(pending, upstream.Buffer, length);
        }
        finally
        {
            lock (_inFlight)
            {
                _inFlight.Remove(pending.Key);
            }

            leader!.Completion.TrySetResult(published);
        }
    }

    private async Task<UpstreamAnswer?> AskGroupAsync(ReadOnlyMemory<byte> query, PendingQuery pending, CancellationToken cancellationToken)
    {
        DnsRequestInfo info = pending.Info;
        byte[] frame = ArrayPool<byte>.Shared.Rent(2 + query.Length + 256);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_queryTimeout);
        try
        {
            int length = DnsMessageWriter.WriteUpstreamQuery(query.Span, info, frame.AsSpan(2), _options.ForwardClientSubnet);
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)length);
            Memory<byte> framed = frame.AsMemory(0, 2 + length);
            ReadOnlyMemory<byte> name = frame.AsMemory(2 + DnsConstants.HeaderSize, info.NameLength);
            DotUpstream? first = pending.Group.Pick(null, Stopwatch.GetTimestamp());
            if (first is null)
            {
                return null;
            }

            try
            {
                return await first.QueryAsync(framed, name, info.QType, freshConnection: false, deadline.Token).ConfigureAwait(false);
            }
            catch (UpstreamException)
            {
                // One retry, on a fresh connection, preferably to another upstream (RFC 7766 §6.2.1).
            }

            DotUpstream? second = pending.Group.Pick(first, Stopwatch.GetTimestamp());
            if (second is null)
            {
                return null;
            }

            try
            {
                return await second.QueryAsync(framed, name, info.QType, freshConnection: true, deadline.Token).ConfigureAwait(false);
            }
            catch (UpstreamException)
            {
                return null;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async Task PrefetchAsync(byte[] query, PendingQuery pending)
    {
        pending.Stale = null;
        pending.Background = true;
        UpstreamAnswer answer = await ResolveUpstreamAsync(query, pending, CancellationToken.None).ConfigureAwait(false);
        answer.Release();
    }

    private static async Task<CacheEntry?> WaitAsync(Task<CacheEntry?> task, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    // No upstream answered: a stale answer if we have one (RFC 8767), SERVFAIL otherwise — never silence.
    private UpstreamAnswer Failure(ReadOnlySpan<byte> query, in PendingQuery pending)
    {
        byte[] buffer;
        int length;
        if (pending.Stale is { } stale)
        {
            _metrics.CacheStale.Add(1);
            buffer = ArrayPool<byte>.Shared.Rent(stale.Body.Length + DnsMessageWriter.OptSize);
            length = DnsCache.WriteAnswer(stale, stale: true, Stopwatch.GetTimestamp(), query, pending.Info, buffer, pending.Limit);
        }
        else
        {
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                DnsDotLog.UpstreamTimeout(_logger, Encoding.ASCII.GetString(query.Slice(DnsConstants.HeaderSize, pending.Info.NameLength)));
            }

            buffer = ArrayPool<byte>.Shared.Rent(pending.Info.QuestionEnd + DnsMessageWriter.OptSize);
            length = DnsMessageWriter.WriteRcode(query, pending.Info, echoQuestion: true, DnsConstants.RcodeServFail, buffer);
        }

        return Finish(pending, buffer, length);
    }

    private UpstreamAnswer Finish(in PendingQuery pending, byte[] buffer, int length)
    {
        if (!pending.Background)
        {
            CountAnswer(pending.Transport, buffer[3] & DnsConstants.RcodeMask);
        }

        return new UpstreamAnswer(buffer, length);
    }

    private ResolveStep Rcode(ReadOnlySpan<byte> query, in DnsRequestInfo info, int rcode, DnsTransport transport, Span<byte> destination, out int length)
    {
        length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, rcode, destination);
        return Answered(transport, destination, length);
    }

    private ResolveStep Answered(DnsTransport transport, ReadOnlySpan<byte> answer, int length)
    {
        CountAnswer(transport, length > 3 ? answer[3] & DnsConstants.RcodeMask : 0);
        return ResolveStep.Answered;
    }

    private static readonly string[] RcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15"];

    private void CountAnswer(DnsTransport transport, int rcode) =>
        _metrics.Queries.Add(1, new KeyValuePair<string, object?>("transport", transport == DnsTransport.Udp ? "udp" : "tcp"), new KeyValuePair<string, object?>("rcode", RcodeNames[rcode & 0xF]));
}
