using System.Diagnostics.Metrics;
using System.Text;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;

namespace Gateway.Tests.HttpProxy.Cache;

public sealed class HttpCacheTests : IDisposable
{
    private readonly Meter _meter = new("Gateway.Tests.HttpCache");

    private HttpCache Create(long maxBytes = 1 << 20, int maxEntries = 100, long maxObjectBytes = 64 * 1024) =>
        new(new HttpCacheOptions { MaxBytes = maxBytes, MaxEntries = maxEntries, MaxObjectBytes = maxObjectBytes }, new HttpProxyMetrics(_meter));

    private static CacheEntry Entry(string key, int bodyLength) =>
        new(key, new byte[20], new byte[bodyLength], bodyLength, 200) { Lifetime = 60 };

    [Fact]
    public void Find_StoredKey_ReturnsEntry_OtherKeyNull()
    {
        HttpCache cache = Create();
        CacheEntry entry = Entry("a.test:80/x", 10);
        cache.Store(entry);

        Assert.Same(entry, cache.Find("a.test:80/x"));
        Assert.Null(cache.Find("a.test:80/y"));
    }

    [Fact]
    public void Store_SameKey_ReplacesAndKeepsByteCount()
    {
        HttpCache cache = Create();
        cache.Store(Entry("k", 100));
        CacheEntry second = Entry("k", 50);
        cache.Store(second);

        Assert.Equal(1, cache.Count);
        Assert.Equal(second.Size, cache.Bytes);
        Assert.Same(second, cache.Find("k"));
    }

    [Fact]
    public void Store_BeyondMaxBytes_EvictsLeastRecentlyUsed()
    {
        CacheEntry probe = Entry("k0", 1000);
        HttpCache cache = Create(maxBytes: probe.Size * 3);
        cache.Store(Entry("k0", 1000));
        cache.Store(Entry("k1", 1000));
        cache.Store(Entry("k2", 1000));
        Assert.NotNull(cache.Find("k0"));   // k0 is now the most recently used

        cache.Store(Entry("k3", 1000));

        Assert.NotNull(cache.Find("k0"));
        Assert.Null(cache.Find("k1"));
        Assert.NotNull(cache.Find("k2"));
        Assert.NotNull(cache.Find("k3"));
        Assert.True(cache.Bytes <= probe.Size * 3);
    }

    [Fact]
    public void Store_BeyondMaxEntries_EvictsOldest()
    {
        HttpCache cache = Create(maxEntries: 2);
        cache.Store(Entry("a", 1));
        cache.Store(Entry("b", 1));
        cache.Store(Entry("c", 1));

        Assert.Equal(2, cache.Count);
        Assert.Null(cache.Find("a"));
    }

    [Fact]
    public void Remove_StoredKey_IsGoneAndBytesReleased()
    {
        HttpCache cache = Create();
        cache.Store(Entry("a", 10));

        Assert.True(cache.Remove("a"));
        Assert.False(cache.Remove("a"));
        Assert.Equal(0, cache.Bytes);
        Assert.Null(cache.Find("a"));
    }

    [Fact]
    public void TryReserve_BeyondMaxBytes_IsRefusedUntilReleased()
    {
        HttpCache cache = Create(maxBytes: 100_000);

        Assert.True(cache.TryReserve(80_000));
        Assert.False(cache.TryReserve(30_000));
        cache.Release(80_000);
        Assert.True(cache.TryReserve(30_000));
    }

    [Fact]
    public void TryReserve_CacheFull_EvictsStoredEntriesToMakeRoom()
    {
        CacheEntry probe = Entry("k9", 10_000);
        HttpCache cache = Create(maxBytes: probe.Size * 4);
        for (int i = 0; i < 4; i++)
        {
            cache.Store(Entry($"k{i}", 10_000));
        }

        Assert.True(cache.TryReserve(probe.Size * 2));

        Assert.Equal(2, cache.Count);
        Assert.Null(cache.Find("k0"));
        Assert.Null(cache.Find("k1"));
        Assert.True(cache.Bytes + (probe.Size * 2) <= probe.Size * 4);
    }

    [Fact]
    public void Remove_WhileASessionHoldsTheEntry_BodyGoesBackToPoolOnlyAfterRelease()
    {
        HttpCache cache = Create();
        byte[] body = cache.BodyPool.Rent(4096);
        cache.Store(new CacheEntry("k", new byte[10], body, 4096, 200, cache.BodyPool));
        CacheEntry held = cache.Find("k")!;

        cache.Remove("k");
        byte[] whileHeld = cache.BodyPool.Rent(4096);
        held.Release();
        byte[] afterRelease = cache.BodyPool.Rent(4096);

        Assert.NotSame(body, whileHeld);
        Assert.Same(body, afterRelease);
    }

    [Fact]
    public void Fill_KnownLength_StoresHeadWithContentLengthAndBody()
    {
        HttpCache cache = Create();
        var fill = new CacheFill(cache);
        CacheEntry template = new("k", [], [], 0, 200) { Lifetime = 60 };

        Assert.True(fill.Begin(template, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\n"u8, 5));
        fill.Append("hel"u8);
        fill.Append("lo"u8);
        CacheEntry? entry = fill.Complete();

        Assert.NotNull(entry);
        Assert.Equal("HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 5\r\n", Encoding.ASCII.GetString(entry.Head));
        Assert.Equal("hello", Encoding.ASCII.GetString(entry.Body.Span));
        Assert.Equal(60, entry.Lifetime);
    }

    [Fact]
    public void Fill_UnknownLength_GrowsAndAddsContentLength()
    {
        HttpCache cache = Create();
        var fill = new CacheFill(cache);
        byte[] body = new byte[40_000];
        new Random(1).NextBytes(body);

        Assert.True(fill.Begin(new CacheEntry("k", [], [], 0, 200), "HTTP/1.1 200 OK\r\n"u8, -1));
        for (int i = 0; i < body.Length; i += 1000)
        {
            fill.Append(body.AsSpan(i, 1000));
        }

        CacheEntry? entry = fill.Complete();

        Assert.NotNull(entry);
        Assert.Equal("HTTP/1.1 200 OK\r\nContent-Length: 40000\r\n", Encoding.ASCII.GetString(entry.Head));
        Assert.Equal(body, entry.Body.ToArray());
    }

    [Fact]
    public void Fill_BodyBeyondMaxObjectBytes_IsAbandoned()
    {
        HttpCache cache = Create(maxObjectBytes: 10_000);
        var fill = new CacheFill(cache);

        Assert.False(fill.Begin(new CacheEntry("k", [], [], 0, 200), "HTTP/1.1 200 OK\r\n"u8, 10_001));
        Assert.True(fill.Begin(new CacheEntry("k", [], [], 0, 200), "HTTP/1.1 200 OK\r\n"u8, -1));
        fill.Append(new byte[6000]);
        fill.Append(new byte[6000]);

        Assert.False(fill.Active);
        Assert.Null(fill.Complete());
        // Everything reserved was given back.
        Assert.True(cache.TryReserve(1 << 20));
    }

    [Fact]
    public void Fill_ShortBody_IsNotStored()
    {
        HttpCache cache = Create();
        var fill = new CacheFill(cache);

        fill.Begin(new CacheEntry("k", [], [], 0, 200), "HTTP/1.1 200 OK\r\n"u8, 10);
        fill.Append("short"u8);

        Assert.Null(fill.Complete());
    }

    public void Dispose() => _meter.Dispose();
}
