using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using Gateway.Plugins.HttpProxy.Api;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Plugins.HttpProxy.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.HttpProxy.Cache;

/// <summary>
/// Collapsed forwarding (squid's collapsed_forwarding) on the cache exchanges of several client connections, driven
/// as ClientSession drives them: look up, then either lead the origin fetch (prepare the store, fill, end it) or
/// wait for it and look up again.
/// </summary>
public sealed class CollapsedForwardingTests : IDisposable
{
    // Long enough that a test finishing within WaitDeadline proves the waiters were released, not timed out.
    private static readonly TimeSpan LongWait = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan WaitDeadline = TimeSpan.FromSeconds(30);

    private readonly Meter _meter = new("Gateway.Tests.CollapsedForwarding." + Guid.NewGuid().ToString("N"));
    private readonly HttpProxyMetrics _metrics;
    private readonly HttpProxyStatsApi _stats;
    private readonly List<Client> _clients = [];

    public CollapsedForwardingTests()
    {
        _metrics = new HttpProxyMetrics(_meter);
        _stats = new HttpProxyStatsApi(_meter, cacheEnabled: true);
    }

    public void Dispose()
    {
        foreach (Client client in _clients)
        {
            client.Dispose();
        }

        _stats.Dispose();
        _meter.Dispose();
    }

    [Fact]
    public async Task LookUp_ConcurrentMisses_OneLeadsAndTheWaitersAreAnsweredFromItsResponse()
    {
        HttpCache cache = CreateCache();
        byte[] body = Payload(5000);
        Client leader = Connect(cache), second = Connect(cache), third = Connect(cache);

        Assert.False(leader.LookUp());
        Assert.False(second.LookUp());
        Assert.False(third.LookUp());
        Assert.Null(leader.Exchange.Waiting);
        Assert.NotNull(second.Exchange.Waiting);
        Assert.Same(second.Exchange.Waiting, third.Exchange.Waiting);
        Assert.Equal(1, cache.FetchesInFlight);
        Task<bool> secondAnswer = second.WaitAndLookUpAsync();
        Task<bool> thirdAnswer = third.WaitAndLookUpAsync();
        Assert.False(secondAnswer.IsCompleted);

        leader.Respond("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n", body);

        Assert.True(await secondAnswer.WaitAsync(WaitDeadline));
        Assert.True(await thirdAnswer.WaitAsync(WaitDeadline));
        Assert.Equal(body, second.Exchange.Hit!.Body.ToArray());
        Assert.Equal(body, third.Exchange.Hit!.Body.ToArray());
        Assert.Equal(0, cache.FetchesInFlight);
        JsonElement stats = JsonDocument.Parse(_stats.Write()).RootElement.GetProperty("cache");
        Assert.Equal(2, stats.GetProperty("collapsed").GetInt64());
        Assert.Equal(1, stats.GetProperty("misses").GetInt64());
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nCache-Control: private, max-age=600\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nSet-Cookie: a=b\r\n")]
    [InlineData("HTTP/1.1 503 Service Unavailable\r\nCache-Control: max-age=600\r\n")]
    public async Task PrepareStore_ResponseNotShared_ReleasesEveryWaiterBeforeTheBody(string head)
    {
        HttpCache cache = CreateCache();
        Client leader = Connect(cache);
        Client[] waiters = [Connect(cache), Connect(cache), Connect(cache)];
        leader.LookUp();
        Task<bool>[] answers = new Task<bool>[waiters.Length];
        for (int i = 0; i < waiters.Length; i++)
        {
            waiters[i].LookUp();
            answers[i] = waiters[i].WaitAndLookUpAsync();
        }

        leader.StartResponse(head, contentLength: 100);

        foreach (Task<bool> answer in answers)
        {
            Assert.False(await answer.WaitAsync(WaitDeadline));
        }

        Assert.Equal(0, cache.FetchesInFlight);
        Assert.Equal(0, JsonDocument.Parse(_stats.Write()).RootElement.GetProperty("cache").GetProperty("collapsed").GetInt64());
    }

    [Fact]
    public async Task WaitAsync_LeaderSlowerThanCollapsedWait_WaiterGoesAloneAndTheFetchStillServesLaterMisses()
    {
        HttpCache cache = CreateCache();
        var quick = new HttpCacheOptions { CollapsedWait = TimeSpan.FromMilliseconds(50) };
        Client leader = Connect(cache), waiter = Connect(cache, quick);
        leader.LookUp();
        waiter.LookUp();

        CollapseOutcome outcome = await waiter.Exchange.WaitAsync(CancellationToken.None).AsTask().WaitAsync(WaitDeadline);
        Assert.Equal(CollapseOutcome.TimedOut, outcome);
        Assert.False(waiter.Exchange.LookUpAfterWait(outcome, waiter.Head, waiter.Fields));
        Assert.Null(waiter.Exchange.Waiting);
        Assert.Equal(1, cache.FetchesInFlight);

        leader.Respond("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n", Payload(10));

        Assert.True(Connect(cache).LookUp());
        Assert.Equal(0, cache.FetchesInFlight);
    }

    [Fact]
    public async Task WaitAsync_WaiterCancelled_LeavesNothingBehind()
    {
        HttpCache cache = CreateCache();
        Client leader = Connect(cache), gone = Connect(cache), staying = Connect(cache);
        leader.LookUp();
        gone.LookUp();
        staying.LookUp();
        using var disconnect = new CancellationTokenSource();
        Task<CollapseOutcome> goneWait = gone.Exchange.WaitAsync(disconnect.Token).AsTask();
        Task<bool> stayingAnswer = staying.WaitAndLookUpAsync();

        await disconnect.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => goneWait.WaitAsync(WaitDeadline));
        gone.Dispose();
        leader.Respond("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n", Payload(10));

        Assert.True(await stayingAnswer.WaitAsync(WaitDeadline));
        Assert.Equal(0, cache.FetchesInFlight);
    }

    [Fact]
    public async Task Dispose_LeaderConnectionGoneMidBody_ReleasesWaitersAtOnce()
    {
        HttpCache cache = CreateCache();
        (Client leader, Task<bool> answer) = LeaderAndWaiter(cache);
        leader.StartResponse("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n", contentLength: 1000);
        leader.Exchange.Fill!.Append(Payload(400));
        Assert.False(answer.IsCompleted);

        leader.Dispose();

        Assert.False(await answer.WaitAsync(WaitDeadline));
        Assert.Equal(0, cache.FetchesInFlight);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task AbandonFetch_LeaderAnsweredWithAnErrorOfItsOwn_ReleasesWaiters()
    {
        HttpCache cache = CreateCache();
        (Client leader, Task<bool> answer) = LeaderAndWaiter(cache);

        // What ClientSession does when the origin is unreachable or times out (SendErrorAsync).
        leader.Exchange.AbandonFetch();

        Assert.False(await answer.WaitAsync(WaitDeadline));
        Assert.Equal(0, cache.FetchesInFlight);
    }

    [Fact]
    public async Task Append_ChunkedBodyBeyondMaxObjectBytes_ReleasesWaitersBeforeTheBodyEnds()
    {
        HttpCache cache = CreateCache(maxObjectBytes: 1000);
        (Client leader, Task<bool> answer) = LeaderAndWaiter(cache);
        leader.StartResponse("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nTransfer-Encoding: chunked\r\n", contentLength: -1);
        leader.Exchange.Fill!.Append(Payload(600));
        Assert.False(answer.IsCompleted);

        leader.Exchange.Fill!.Append(Payload(600));

        Assert.False(await answer.WaitAsync(WaitDeadline));
        Assert.Null(leader.Exchange.Fill);
    }

    [Fact]
    public async Task LookUp_Head_WaitsForAGetButNeverLeads()
    {
        HttpCache cache = CreateCache();
        Client lonelyHead = Connect(cache, method: "HEAD");
        Assert.False(lonelyHead.LookUp());
        Assert.Null(lonelyHead.Exchange.Waiting);
        Assert.Equal(0, cache.FetchesInFlight);

        Client leader = Connect(cache), head = Connect(cache, method: "HEAD");
        leader.LookUp();
        head.LookUp();
        Task<bool> answer = head.WaitAndLookUpAsync();
        leader.Respond("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n", Payload(10));

        Assert.True(await answer.WaitAsync(WaitDeadline));
    }

    [Fact]
    public async Task LookUpAfterWait_StoredVariantDoesNotMatch_WaiterGoesAlone()
    {
        HttpCache cache = CreateCache();
        Client english = Connect(cache, fields: "Accept-Language: en"), german = Connect(cache, fields: "Accept-Language: de");
        english.LookUp();
        german.LookUp();
        Task<CollapseOutcome> wait = german.Exchange.WaitAsync(CancellationToken.None).AsTask();

        english.Respond("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nVary: Accept-Language\r\n", Payload(10));
        CollapseOutcome outcome = await wait.WaitAsync(WaitDeadline);

        Assert.Equal(CollapseOutcome.Stored, outcome);
        Assert.False(german.Exchange.LookUpAfterWait(outcome, german.Head, german.Fields));
        Assert.Null(german.Exchange.Hit);
        Assert.True(Connect(cache, fields: "Accept-Language: en").LookUp());
    }

    [Fact]
    public void LookUp_CollapsingOff_EveryMissGoesAlone()
    {
        HttpCache cache = CreateCache();
        var off = new HttpCacheOptions { CollapsedForwarding = false };
        Client first = Connect(cache, off), second = Connect(cache, off);

        Assert.False(first.LookUp());
        Assert.False(second.LookUp());

        Assert.Null(second.Exchange.Waiting);
        Assert.Equal(0, cache.FetchesInFlight);
    }

    [Theory]
    [InlineData("Cache-Control: no-cache")]
    [InlineData("Cache-Control: max-age=0")]
    [InlineData("Pragma: no-cache")]
    [InlineData("Range: bytes=0-10")]
    [InlineData("Cache-Control: only-if-cached")]
    public void LookUp_RequestThatMayNotShareAFetch_NeitherWaitsNorLeads(string field)
    {
        HttpCache cache = CreateCache();
        Client other = Connect(cache, fields: field);
        Assert.False(other.LookUp());
        Assert.Equal(0, cache.FetchesInFlight);

        Client leader = Connect(cache), again = Connect(cache, fields: field);
        leader.LookUp();
        again.LookUp();

        Assert.Null(again.Exchange.Waiting);
    }

    [Fact]
    public void LookUp_NoStoreRequest_WaitsButDoesNotLead()
    {
        HttpCache cache = CreateCache();
        Client noStore = Connect(cache, fields: "Cache-Control: no-store");
        noStore.LookUp();
        Assert.Equal(0, cache.FetchesInFlight);

        Client leader = Connect(cache), waiter = Connect(cache, fields: "Cache-Control: no-store");
        leader.LookUp();
        waiter.LookUp();

        Assert.NotNull(waiter.Exchange.Waiting);
    }

    [Fact]
    public void Reset_LeaderMovesOnWithoutStoring_FetchEnds()
    {
        HttpCache cache = CreateCache();
        Client leader = Connect(cache);
        leader.LookUp();
        Assert.Equal(1, cache.FetchesInFlight);

        // The connection's next request starts (the previous one ended without PrepareStore, e.g. an upgrade).
        leader.Exchange.Reset();

        Assert.Equal(0, cache.FetchesInFlight);
    }

    [Fact]
    public void LookUp_HitWithCollapsingOn_AllocatesNothing()
    {
        HttpCache cache = CreateCache();
        Client leader = Connect(cache);
        leader.LookUp();
        leader.Respond("HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\n", Payload(1024));
        Client client = Connect(cache);
        Assert.True(client.LookUp());   // the first look-up sizes the key buffer
        client.Exchange.Reset();
        ReadOnlySpan<byte> target = client.Head.AsSpan(4, "http://a.test/x".Length);
        Assert.True(ProxyTarget.TryParseAbsolute(target, out ProxyTarget parsed));
        HeaderField[] fields = client.Fields;
        RequestHead request = client.Request;

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Assert.True(client.Exchange.LookUp(client.Head, request, fields, target, parsed));
            client.Exchange.Reset();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>A request that leads the fetch of http://a.test/x and one that waits for it: its answer (hit or not).</summary>
    private (Client Leader, Task<bool> Answer) LeaderAndWaiter(HttpCache cache)
    {
        Client leader = Connect(cache), waiter = Connect(cache);
        leader.LookUp();
        waiter.LookUp();
        return (leader, waiter.WaitAndLookUpAsync());
    }

    private HttpCache CreateCache(long maxObjectBytes = 1 << 20) =>
        new(new HttpCacheOptions { MaxBytes = 16 << 20, MaxObjectBytes = maxObjectBytes }, _metrics);

    private Client Connect(HttpCache cache, HttpCacheOptions? options = null, string method = "GET", params string[] fields)
    {
        var client = new Client(new CacheExchange(cache, options ?? new HttpCacheOptions { CollapsedWait = LongWait }, _metrics, null, 32), method, fields);
        _clients.Add(client);
        return client;
    }

    private static byte[] Payload(int length)
    {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (byte)('a' + (i % 26));
        }

        return data;
    }

    /// <summary>One client connection's cache exchange with its request for http://a.test/x.</summary>
    private sealed class Client : IDisposable
    {
        private readonly HeaderField[] _fields = new HeaderField[32];
        private readonly RequestHead _request;
        private bool _disposed;

        public Client(CacheExchange exchange, string method, string[] fields)
        {
            Exchange = exchange;
            var text = new StringBuilder($"{method} http://a.test/x HTTP/1.1\r\nHost: a.test\r\n");
            foreach (string field in fields)
            {
                text.Append(field).Append("\r\n");
            }

            Head = Encoding.ASCII.GetBytes(text.Append("\r\n").ToString());
            Assert.Equal(HttpParseError.None, HttpHeadParser.ParseRequest(Head, _fields, out _request));
        }

        public CacheExchange Exchange { get; }

        public byte[] Head { get; }

        public RequestHead Request => _request;

        public HeaderField[] Fields => _fields[.._request.Headers.Count];

        public bool LookUp()
        {
            ReadOnlySpan<byte> target = _request.Target(Head);
            Assert.True(ProxyTarget.TryParseAbsolute(target, out ProxyTarget parsed));
            return Exchange.LookUp(Head, _request, Fields, target, parsed);
        }

        public async Task<bool> WaitAndLookUpAsync()
        {
            CollapseOutcome outcome = await Exchange.WaitAsync(CancellationToken.None);
            return Exchange.LookUpAfterWait(outcome, Head, Fields);
        }

        /// <summary>The origin's response head arrived: decide whether it is stored (ForwardAsync's PrepareResponse).</summary>
        public void StartResponse(string head, long contentLength)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(head + "\r\n");
            var fields = new HeaderField[32];
            Assert.Equal(HttpParseError.None, HttpHeadParser.ParseResponse(bytes, fields, out ResponseHead response));
            ResponsePlan plan = new()
            {
                Status = response.Status,
                Framing = contentLength < 0 ? ResponseFraming.Chunked : ResponseFraming.Length,
                Length = contentLength,
                OriginKeepAlive = true,
            };
            Exchange.PrepareStore(bytes, response, fields.AsSpan(0, response.Headers.Count), plan, TimeSpan.FromMilliseconds(5), Head, new HeaderField[32],
                NetAddress.Parse("192.0.2.1"), "a.test"u8, 80);
        }

        /// <summary>A whole response relayed: head, body, end of the store.</summary>
        public void Respond(string head, byte[] body)
        {
            StartResponse(head + $"Content-Length: {body.Length}\r\n", body.Length);
            Exchange.Fill?.Append(body);
            Exchange.EndStore(complete: true);
        }

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                Exchange.Dispose();
            }
        }
    }
}
