using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot;

public sealed class DnsResolverTests
{
    private sealed class FixedRules(Verdict verdict) : IRuleEvaluator
    {
        public string? LastName { get; private set; }

        public Verdict Evaluate(DnsQuery query)
        {
            LastName = query.Name;
            return verdict;
        }
    }

    private static DnsResolver Create(IRuleEvaluator? rules, out UpstreamGroup group)
    {
        using var meter = new Meter("test");
        group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        return new DnsResolver(new DnsDotOptions(), group, new Dictionary<string, UpstreamGroup> { ["corp"] = group }, null, new DnsDotMetrics(meter), NullLogger.Instance) { Rules = rules };
    }

    private static (ResolveStep Step, byte[] Answer, PendingQuery Pending) Run(DnsResolver resolver, byte[] query)
    {
        byte[] answer = new byte[DnsResolver.MaxMessageSize];
        ResolveStep step = resolver.Begin(query, NetAddress.Parse("192.0.2.7"), DnsTransport.Udp, 1232, answer, out int length, out PendingQuery pending);
        return (step, answer[..length], pending);
    }

    [Theory]
    [InlineData("NxDomain", 3)]
    [InlineData("Refused", 5)]
    [InlineData("ServFail", 2)]
    public void Begin_RcodeVerdict_AnswersWithRcodeAndQuestion(string verdict, int rcode)
    {
        Verdict v = verdict switch { "NxDomain" => Verdict.NxDomain, "Refused" => Verdict.Refused, _ => Verdict.ServFail };
        var rules = new FixedRules(v);
        (ResolveStep step, byte[] answer, _) = Run(Create(rules, out _), DnsTestMessages.Query("Ads.Example.TEST", 1, id: 9));
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal("ads.example.test", rules.LastName);
        Assert.Equal(rcode, answer[3] & 0x0F);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(4)));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(answer));
    }

    [Fact]
    public void Begin_AnswerVerdictForA_LocalARecord()
    {
        (ResolveStep step, byte[] answer, _) = Run(Create(new FixedRules(Verdict.Answer("10.0.0.5", 60)), out _), DnsTestMessages.Query("intranet.corp.test", 1));
        Assert.Equal(ResolveStep.Answered, step);
        Assert.True(DnsMessageReader.TryScanResponse(answer, DnsTestMessages.EncodeName("intranet.corp.test"), 1, [], out DnsResponseInfo info));
        Assert.Equal(1, info.AnswerCount);
        Assert.Equal(60u, info.CacheTtl);
        Assert.Equal(new byte[] { 10, 0, 0, 5 }, answer[(answer.Length - 15)..(answer.Length - 11)]);
    }

    [Fact]
    public void Begin_AnswerVerdictForMx_NoData()
    {
        (_, byte[] answer, _) = Run(Create(new FixedRules(Verdict.Answer("10.0.0.5", 60)), out _), DnsTestMessages.Query("intranet.corp.test", 15));
        Assert.Equal(0, answer[3] & 0x0F);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(6)));
    }

    [Fact]
    public void Begin_DropVerdict_NoAnswer()
    {
        (ResolveStep step, byte[] answer, _) = Run(Create(new FixedRules(Verdict.Drop), out _), DnsTestMessages.Query("a.test", 1));
        Assert.Equal(ResolveStep.Drop, step);
        Assert.Empty(answer);
    }

    [Fact]
    public void Begin_ForwardUnknownGroup_ServFail()
    {
        (ResolveStep step, byte[] answer, _) = Run(Create(new FixedRules(Verdict.Forward("nope")), out _), DnsTestMessages.Query("a.test", 1));
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(2, answer[3] & 0x0F);
    }

    [Fact]
    public void Begin_ForwardKnownGroup_GoesUpstreamToThatGroup()
    {
        (ResolveStep step, _, PendingQuery pending) = Run(Create(new FixedRules(Verdict.Forward("corp")), out UpstreamGroup group), DnsTestMessages.Query("a.corp.test", 1));
        Assert.Equal(ResolveStep.Upstream, step);
        Assert.Same(group, pending.Group);
    }

    [Fact]
    public void Begin_CachedForDefaultGroup_RuleForwardsToOtherGroup_NotServedFromCache()
    {
        using var meter = new Meter("test");
        var defaultGroup = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var corp = new UpstreamGroup("corp", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var cache = new DnsCache(new CacheOptions());
        var resolver = new DnsResolver(new DnsDotOptions(), defaultGroup, new Dictionary<string, UpstreamGroup> { ["corp"] = corp }, cache, new DnsDotMetrics(meter), NullLogger.Instance);
        byte[] name = DnsTestMessages.EncodeName("a.corp.test");
        cache.Store(DnsCache.Key(name, 1, 1, false, defaultGroup.CacheId), DnsTestMessages.Response("a.corp.test", 1, 0, [(1, 300, [10, 0, 0, 1])]),
            name, 1, 1, false, 0, System.Diagnostics.Stopwatch.GetTimestamp(), defaultGroup.CacheId);

        (ResolveStep beforeRule, _, _) = Run(resolver, DnsTestMessages.Query("a.corp.test", 1));
        resolver.Rules = new FixedRules(Verdict.Forward("corp"));
        (ResolveStep afterRule, _, PendingQuery pending) = Run(resolver, DnsTestMessages.Query("a.corp.test", 1));

        Assert.Equal(ResolveStep.Answered, beforeRule);
        Assert.Equal(ResolveStep.Upstream, afterRule);
        Assert.Same(corp, pending.Group);
        Assert.NotEqual(DnsCache.Key(name, 1, 1, false, defaultGroup.CacheId), pending.Key);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Begin_AnsweredAtOnce_ObservedWithArrivalAndAnswerTimes(bool cacheHit)
    {
        using var meter = new Meter("test");
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var cache = new DnsCache(new CacheOptions());
        var resolver = new DnsResolver(new DnsDotOptions(), group, new Dictionary<string, UpstreamGroup>(), cache, new DnsDotMetrics(meter), NullLogger.Instance);
        byte[] name = DnsTestMessages.EncodeName("a.test");
        cache.Store(DnsCache.Key(name, 1, 1, false, group.CacheId), DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])]),
            name, 1, 1, false, 0, System.Diagnostics.Stopwatch.GetTimestamp(), group.CacheId);
        resolver.Rules = cacheHit ? null : new FixedRules(Verdict.NxDomain);
        var observer = new RecordingObserver();
        resolver.Observer = observer;

        long before = System.Diagnostics.Stopwatch.GetTimestamp();
        (ResolveStep step, byte[] answer, PendingQuery pending) = Run(resolver, DnsTestMessages.Query("a.test", 1));
        long after = System.Diagnostics.Stopwatch.GetTimestamp();

        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(cacheHit ? 0 : 3, answer[3] & 0xF);
        QueryRecord record = Assert.Single(observer.Records);
        Assert.Equal(cacheHit, record.CacheHit);
        Assert.Equal(pending.Started, record.Started);
        Assert.InRange(record.Started, before, after);
        Assert.InRange(record.Finished, record.Started, after);
    }

    private sealed class RecordingObserver : IQueryObserver
    {
        public List<QueryRecord> Records { get; } = [];

        public bool WantsUpstreamMessages => false;

        public void OnAnswered(in QueryRecord record, ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer) => Records.Add(record);

        public void OnUpstreamExchange(string upstream, System.Net.IPEndPoint endpoint, ReadOnlySpan<byte> query, ReadOnlySpan<byte> response, long sentAt, long receivedAt)
        {
        }
    }

    [Fact]
    public void Begin_Malformed_FormErr()
    {
        byte[] query = DnsTestMessages.Query("a.test", 1);
        (ResolveStep step, byte[] answer, _) = Run(Create(null, out _), query[..15]);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(1, answer[3] & 0x0F);
        Assert.NotEqual(0, answer[2] & 0x80);
    }

    // The OPT we append: root owner, type 41, our UDP size, extended RCODE, version 0, DO echoed, no options.
    private static void AssertOpt(byte[] answer, int at, int extendedRcode, bool dnssecOk)
    {
        Assert.Equal(at + 11, answer.Length);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(10)));
        Assert.Equal(0, answer[at]);
        Assert.Equal(41, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(at + 1)));
        Assert.Equal(1232, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(at + 3)));
        Assert.Equal(extendedRcode, answer[at + 5]);
        Assert.Equal(0, answer[at + 6]);
        Assert.Equal(dnssecOk ? 0x80 : 0, answer[at + 7]);
    }

    [Fact]
    public void Begin_NoQuestionWithEdns_FormErrWithOpt()
    {
        // RFC 6891 §7: an error answer to an EDNS query carries an OPT too.
        byte[] query = [0x00, 0x05, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, 0];
        (ResolveStep step, byte[] answer, _) = Run(Create(null, out _), query);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(1, answer[3] & 0x0F);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(4)));
        AssertOpt(answer, 12, 0, dnssecOk: true);
    }

    [Fact]
    public void Begin_BrokenOptOption_FormErrWithOpt()
    {
        // An option whose length runs past the OPT's RDATA.
        byte[] query = DnsTestMessages.Query("a.test", 1, options: [0, 10, 0, 9, 1, 2]);
        (ResolveStep step, byte[] answer, _) = Run(Create(null, out _), query);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(1, answer[3] & 0x0F);
        AssertOpt(answer, 12, 0, dnssecOk: false);
    }

    [Fact]
    public void Begin_OtherOpcodeWithEdns_NotImpWithOpt()
    {
        byte[] query = DnsTestMessages.Query("a.test", 1);
        query[2] |= 0x10; // opcode 2 (STATUS)
        (ResolveStep step, byte[] answer, _) = Run(Create(null, out _), query);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(4, answer[3] & 0x0F);
        Assert.Equal(0x10, answer[2] & 0x78);
        AssertOpt(answer, 12, 0, dnssecOk: false);
    }

    [Fact]
    public void Begin_MalformedWithoutEdns_FormErrWithoutOpt()
    {
        byte[] query = DnsTestMessages.Query("a.test", 1, edns: false);
        query[5] = 0; // no question
        (ResolveStep step, byte[] answer, _) = Run(Create(null, out _), query[..12]);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(1, answer[3] & 0x0F);
        Assert.Equal(12, answer.Length);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(10)));
    }

    [Fact]
    public void Begin_EdnsVersion1_BadVersWithOptVersion0()
    {
        // RFC 6891 §6.1.3: BADVERS is RCODE 16: 0 in the header, 1 in the OPT's extended RCODE.
        byte[] query = DnsTestMessages.Query("a.test", 1, dnssecOk: true);
        query[^5] = 1; // the OPT TTL's VERSION byte
        (ResolveStep step, byte[] answer, _) = Run(Create(null, out _), query);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(0, answer[3] & 0x0F);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(4)));
        AssertOpt(answer, query.Length - 11, 1, dnssecOk: true);
    }

    [Theory]
    [InlineData("Refused", 5)]
    [InlineData("ServFail", 2)]
    public void Begin_RcodeVerdictToEdnsClient_CarriesOpt(string verdict, int rcode)
    {
        var rules = new FixedRules(verdict == "Refused" ? Verdict.Refused : Verdict.ServFail);
        byte[] query = DnsTestMessages.Query("a.test", 1);
        (_, byte[] answer, _) = Run(Create(rules, out _), query);
        Assert.Equal(rcode, answer[3] & 0x0F);
        AssertOpt(answer, query.Length - 11, 0, dnssecOk: false);
    }

    [Fact]
    public async Task ResolveUpstreamAsync_NoUpstreamsEdnsClient_ServFailWithOpt()
    {
        DnsResolver resolver = Create(null, out _);
        byte[] query = DnsTestMessages.Query("a.test", 1, id: 78, dnssecOk: true);
        (_, _, PendingQuery pending) = Run(resolver, query);
        UpstreamAnswer answer = await resolver.ResolveUpstreamAsync(query, pending, CancellationToken.None);
        byte[] bytes = answer.Buffer[..answer.Length];
        answer.Release();
        Assert.Equal(2, bytes[3] & 0x0F);
        AssertOpt(bytes, query.Length - 11, 0, dnssecOk: true);
    }

    [Fact]
    public async Task ResolveUpstreamAsync_NoUpstreams_ServFailNeverSilence()
    {
        DnsResolver resolver = Create(null, out _);
        byte[] query = DnsTestMessages.Query("a.test", 1, id: 77);
        (ResolveStep step, _, PendingQuery pending) = Run(resolver, query);
        Assert.Equal(ResolveStep.Upstream, step);
        UpstreamAnswer answer = await resolver.ResolveUpstreamAsync(query, pending, CancellationToken.None);
        Assert.Equal(2, answer.Buffer[3] & 0x0F);
        Assert.Equal(77, BinaryPrimitives.ReadUInt16BigEndian(answer.Buffer));
        answer.Release();
    }

    /// <summary>A query of <paramref name="total"/> bytes: one EDNS option of an unassigned code filling it up.</summary>
    private static byte[] QueryWithOptionOfTotalSize(int total)
    {
        int baseLength = DnsTestMessages.Query("big.test", 1).Length;
        int optionData = total - baseLength - 4;
        byte[] option = new byte[4 + optionData];
        BinaryPrimitives.WriteUInt16BigEndian(option, 65001);
        BinaryPrimitives.WriteUInt16BigEndian(option.AsSpan(2), (ushort)optionData);
        Random.Shared.NextBytes(option.AsSpan(4));
        byte[] query = DnsTestMessages.Query("big.test", 1, id: 99, options: option);
        Assert.Equal(total, query.Length);
        return query;
    }

    [Fact]
    public void Begin_QueryThatOutgrowsItsFrameWhenForwarded_FormErr()
    {
        byte[] query = QueryWithOptionOfTotalSize(ushort.MaxValue - 20);
        byte[] answer = new byte[DnsResolver.MaxMessageSize];
        ResolveStep step = Create(null, out _).Begin(query, NetAddress.Parse("192.0.2.7"), DnsTransport.Tcp, ushort.MaxValue, answer, out int length, out _);
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(1, answer[3] & 0x0F);
        Assert.Equal(99, BinaryPrimitives.ReadUInt16BigEndian(answer));
        Assert.InRange(length, 12, 512);
    }

    [Fact]
    public void Begin_LargeQueryThatStillFitsWhenForwarded_GoesUpstream()
    {
        byte[] query = QueryWithOptionOfTotalSize(ushort.MaxValue - 200);
        byte[] answer = new byte[DnsResolver.MaxMessageSize];
        DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
        Assert.True(DnsMessageWriter.UpstreamQueryLength(query, info, false) <= ushort.MaxValue);
        Assert.Equal(ResolveStep.Upstream, Create(null, out _).Begin(query, NetAddress.Parse("192.0.2.7"), DnsTransport.Tcp, ushort.MaxValue, answer, out _, out _));
    }
}
