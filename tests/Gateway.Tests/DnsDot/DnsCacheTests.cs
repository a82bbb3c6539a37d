using System.Buffers.Binary;
using System.Diagnostics;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Tests.DnsDot;

public sealed class DnsCacheTests
{
    private static readonly byte[] Name = DnsTestMessages.EncodeName("a.test");

    private static (DnsCache Cache, ulong Key) CacheWith(byte[] response, CacheOptions? options = null, long storedAt = 0)
    {
        var cache = new DnsCache(options ?? new CacheOptions());
        ulong key = DnsCache.Key(Name, 1, 1, false);
        Assert.NotNull(cache.Store(key, response, Name, 1, 1, false, 0, storedAt == 0 ? Stopwatch.GetTimestamp() : storedAt));
        return (cache, key);
    }

    [Fact]
    public void TryGet_FreshHitOtherCaseAndId_AnswersWithClientIdAndCase()
    {
        (DnsCache cache, ulong key) = CacheWith(DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])]));
        byte[] query = DnsTestMessages.Query("A.TeSt", 1, id: 0x4242);
        DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
        long now = Stopwatch.GetTimestamp();
        Assert.Equal(CacheLookup.Fresh, cache.TryGet(DnsCache.Key(query.AsSpan(12, info.NameLength), 1, 1, false), query.AsSpan(12, info.NameLength), 1, 1, false, now, out CacheEntry? entry));
        Assert.Equal(key, DnsCache.Key(query.AsSpan(12, info.NameLength), 1, 1, false));
        byte[] answer = new byte[600];
        int length = DnsCache.WriteAnswer(entry!, stale: false, now + (Stopwatch.Frequency * 100), query, info, answer, 1232);
        Assert.Equal(0x4242, BinaryPrimitives.ReadUInt16BigEndian(answer));
        Assert.Equal(query.AsSpan(12, info.NameLength).ToArray(), answer.AsSpan(12, info.NameLength).ToArray());
        Assert.True(DnsMessageReader.TryScanResponse(answer.AsSpan(0, length), Name, 1, [], out DnsResponseInfo scanned));
        Assert.InRange(scanned.CacheTtl, 199u, 200u);
    }

    [Fact]
    public void TryGet_OtherUpstreamGroup_Miss()
    {
        var cache = new DnsCache(new CacheOptions());
        cache.Store(DnsCache.Key(Name, 1, 1, false, group: 7), DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])]), Name, 1, 1, false, 0, Stopwatch.GetTimestamp(), group: 7);

        Assert.Equal(CacheLookup.Fresh, cache.TryGet(DnsCache.Key(Name, 1, 1, false, group: 7), Name, 1, 1, false, Stopwatch.GetTimestamp(), out _, group: 7));
        Assert.Equal(CacheLookup.Miss, cache.TryGet(DnsCache.Key(Name, 1, 1, false, group: 8), Name, 1, 1, false, Stopwatch.GetTimestamp(), out _, group: 8));

        // Even a key collision cannot hand out another group's answer: the entry records its group.
        Assert.Equal(CacheLookup.Miss, cache.TryGet(DnsCache.Key(Name, 1, 1, false, group: 7), Name, 1, 1, false, Stopwatch.GetTimestamp(), out _, group: 8));
    }

    [Fact]
    public void TryGet_DifferentDoBit_Miss()
    {
        (DnsCache cache, ulong _) = CacheWith(DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])]));
        Assert.Equal(CacheLookup.Miss, cache.TryGet(DnsCache.Key(Name, 1, 1, true), Name, 1, 1, true, Stopwatch.GetTimestamp(), out _));
    }

    [Fact]
    public void Store_NxDomain_CachedForSoaMinimum()
    {
        (DnsCache cache, ulong key) = CacheWith(DnsTestMessages.Response("a.test", 1, 3, [], soa: (3600, 60)));
        long now = Stopwatch.GetTimestamp();
        Assert.Equal(CacheLookup.Fresh, cache.TryGet(key, Name, 1, 1, false, now + (Stopwatch.Frequency * 59), out _));
        Assert.Equal(CacheLookup.Stale, cache.TryGet(key, Name, 1, 1, false, now + (Stopwatch.Frequency * 61), out _));
    }

    [Fact]
    public void TryGet_ExpiredWithinStaleAge_StaleAnswerHasTtl30()
    {
        (DnsCache cache, ulong key) = CacheWith(DnsTestMessages.Response("a.test", 1, 0, [(1, 10, [10, 0, 0, 1])]), new CacheOptions { MaxStaleAge = 100 });
        long later = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 50);
        Assert.Equal(CacheLookup.Stale, cache.TryGet(key, Name, 1, 1, false, later, out CacheEntry? entry));
        byte[] query = DnsTestMessages.Query("a.test", 1);
        DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
        byte[] answer = new byte[600];
        int length = DnsCache.WriteAnswer(entry!, stale: true, later, query, info, answer, 1232);
        Assert.True(DnsMessageReader.TryScanResponse(answer.AsSpan(0, length), Name, 1, [], out DnsResponseInfo scanned));
        Assert.Equal(DnsCache.StaleTtl, scanned.CacheTtl);
        Assert.Equal(CacheLookup.Miss, cache.TryGet(key, Name, 1, 1, false, later + (Stopwatch.Frequency * 100), out _));
    }

    [Fact]
    public void TryGet_PopularNearExpiry_AsksForOnePrefetch()
    {
        (DnsCache cache, ulong key) = CacheWith(DnsTestMessages.Response("a.test", 1, 0, [(1, 100, [10, 0, 0, 1])]), new CacheOptions { PrefetchHits = 2 });
        long nearExpiry = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 95);
        Assert.Equal(CacheLookup.Fresh, cache.TryGet(key, Name, 1, 1, false, nearExpiry, out _));
        Assert.Equal(CacheLookup.FreshPrefetch, cache.TryGet(key, Name, 1, 1, false, nearExpiry, out _));
        Assert.Equal(CacheLookup.Fresh, cache.TryGet(key, Name, 1, 1, false, nearExpiry, out _));
    }

    [Fact]
    public void Store_ServFail_NotCached()
    {
        var cache = new DnsCache(new CacheOptions());
        ulong key = DnsCache.Key(Name, 1, 1, false);
        cache.Store(key, DnsTestMessages.Response("a.test", 1, 2, []), Name, 1, 1, false, 0, Stopwatch.GetTimestamp());
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Store_BeyondMaxEntries_StaysWithinCap()
    {
        var cache = new DnsCache(new CacheOptions { MaxEntries = 50 });
        for (int i = 0; i < 500; i++)
        {
            string name = $"n{i}.test";
            byte[] wire = DnsTestMessages.EncodeName(name);
            cache.Store(DnsCache.Key(wire, 1, 1, false), DnsTestMessages.Response(name, 1, 0, [(1, 300, [10, 0, 0, 1])]), wire, 1, 1, false, 0, Stopwatch.GetTimestamp());
        }

        Assert.InRange(cache.Count, 1, 50);
    }

    [Fact]
    public void Store_LargeAnswersBeyondMaxBytes_BytesStayWithinCap()
    {
        // 16 TXT strings of 255 bytes: about 4 KiB an answer; 1 MiB holds about 250 of them, not 10,000.
        var cache = new DnsCache(new CacheOptions { MaxBytes = 1024 * 1024 });
        (ushort, uint, byte[])[] records = Enumerable.Range(0, 16).Select(_ => ((ushort)16, 300u, (byte[])[255, .. new byte[255]])).ToArray();
        for (int i = 0; i < 2000; i++)
        {
            string name = $"big{i}.test";
            byte[] wire = DnsTestMessages.EncodeName(name);
            Assert.NotNull(cache.Store(DnsCache.Key(wire, 16, 1, false), DnsTestMessages.Response(name, 16, 0, records), wire, 16, 1, false, 0, Stopwatch.GetTimestamp()));
            Assert.InRange(cache.Bytes, 0, 1024 * 1024);
        }

        Assert.InRange(cache.Count, 100, 260);
        Assert.True(cache.Bytes > 512 * 1024, $"the cache keeps using its budget ({cache.Bytes} bytes)");
    }

    [Fact]
    public void Store_AnswerLargerThanMaxBytes_ReturnedButNotKept()
    {
        var cache = new DnsCache(new CacheOptions { MaxBytes = 100 });
        ulong key = DnsCache.Key(Name, 1, 1, false);
        Assert.NotNull(cache.Store(key, DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])]), Name, 1, 1, false, 0, Stopwatch.GetTimestamp()));
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.Bytes);
    }

    [Fact]
    public void Store_SameQuestionAgain_BytesCountedOnce()
    {
        var cache = new DnsCache(new CacheOptions());
        ulong key = DnsCache.Key(Name, 1, 1, false);
        byte[] response = DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])]);
        CacheEntry first = cache.Store(key, response, Name, 1, 1, false, 0, Stopwatch.GetTimestamp())!;
        cache.Store(key, response, Name, 1, 1, false, 0, Stopwatch.GetTimestamp());
        Assert.Equal(DnsCache.Cost(first), cache.Bytes);
    }
}
