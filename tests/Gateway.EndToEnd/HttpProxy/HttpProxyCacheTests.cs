using System.Security.Cryptography;
using System.Text;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.HttpProxy.Configuration;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// The proxy's shared cache (RFC 9111) end to end: curl through the proxy's stream handler on a loopback
/// listener to a local origin whose responses each test defines, counting what reaches the origin.
/// </summary>
public sealed class HttpProxyCacheTests : IAsyncLifetime
{
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(90);
    private readonly string _work = Directory.CreateTempSubdirectory("http-proxy-cache-").FullName;
    private CachingOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = new CachingOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task SecondGet_FreshResponse_IsServedFromCache()
    {
        await using var proxy = new ProxyHarness();
        byte[] body = TestOrigin.Payload(1024);
        _origin.Set("/fresh", body, null, ("Cache-Control", "max-age=600"));

        (string first, byte[] firstBody) = await GetAsync(proxy, "/fresh");
        (string second, byte[] secondBody) = await GetAsync(proxy, "/fresh");

        Assert.Equal(1, _origin.Count("GET", "/fresh"));
        Assert.Equal(Sha256(body), Sha256(firstBody));
        Assert.Equal(Sha256(body), Sha256(secondBody));
        Assert.Contains("\nAge: ", second);
        Assert.DoesNotContain("\nAge: ", first);
        Assert.Contains("Content-Length: 1024", second);
        Assert.Contains("Via: 1.1 gateway", second);
    }

    [Fact]
    public async Task KeepAliveConnection_ManyHits_AllBodiesIntact()
    {
        await using var proxy = new ProxyHarness();
        byte[] body = TestOrigin.Payload(1024 * 1024);
        _origin.Set("/big", body, null, ("Cache-Control", "max-age=600"));
        string file = Path.Combine(_work, "big");
        List<string> args = ["-x", proxy.ProxyUrl, "-w", "%{http_code} "];
        for (int i = 0; i < 5; i++)
        {
            args.AddRange(["-o", $"{file}.{i}", $"{_origin.Url}/big"]);
        }

        CommandResult result = await CurlAsync([.. args]);

        Assert.Equal("200 200 200 200 200 ", result.StdOut);
        Assert.Equal(1, _origin.Count("GET", "/big"));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(Sha256(body), Sha256(await File.ReadAllBytesAsync($"{file}.{i}")));
        }
    }

    [Fact]
    public async Task ChunkedResponse_IsStored_AndServedWithContentLength()
    {
        await using var proxy = new ProxyHarness();
        byte[] body = TestOrigin.Payload(100_000);
        _origin.Set("/chunked", body, null, ("Cache-Control", "max-age=600"), ("Transfer-Encoding", "chunked"));

        (string first, byte[] firstBody) = await GetAsync(proxy, "/chunked");
        (string second, byte[] secondBody) = await GetAsync(proxy, "/chunked");

        Assert.Contains("Transfer-Encoding: chunked", first);
        Assert.Contains("Content-Length: 100000", second);
        Assert.DoesNotContain("Transfer-Encoding", second);
        Assert.Equal(Sha256(body), Sha256(firstBody));
        Assert.Equal(Sha256(body), Sha256(secondBody));
        Assert.Equal(1, _origin.Count("GET", "/chunked"));
    }

    [Fact]
    public async Task Head_AfterStoredGet_IsAnsweredFromCache()
    {
        await using var proxy = new ProxyHarness();
        _origin.Set("/head", TestOrigin.Payload(100), null, ("Cache-Control", "max-age=600"));

        await GetAsync(proxy, "/head");
        CommandResult head = await CurlAsync("-x", proxy.ProxyUrl, "-s", "-I", $"{_origin.Url}/head");

        Assert.StartsWith("HTTP/1.1 200", head.StdOut);
        Assert.Contains("Content-Length: 100", head.StdOut);
        Assert.Equal(1, _origin.Count("GET", "/head"));
        Assert.Equal(0, _origin.Count("HEAD", "/head"));
    }

    [Theory]
    [InlineData("no-cache")]
    [InlineData("no-store")]
    [InlineData("private, max-age=600")]
    [InlineData("no-store, max-age=600")]
    public async Task ChangedResource_NotFreelyCacheable_IsAlwaysFetchedFresh(string cacheControl)
    {
        await using var proxy = new ProxyHarness();
        _origin.Set("/changing", "version 1"u8.ToArray(), "\"v1\"", ("Cache-Control", cacheControl), ("Last-Modified", "Sat, 01 Jan 2000 00:00:00 GMT"));
        (_, byte[] first) = await GetAsync(proxy, "/changing");

        _origin.Set("/changing", "version 2"u8.ToArray(), "\"v2\"", ("Cache-Control", cacheControl), ("Last-Modified", "Sat, 01 Jan 2000 00:00:00 GMT"));
        (_, byte[] second) = await GetAsync(proxy, "/changing");

        Assert.Equal("version 1", Encoding.ASCII.GetString(first));
        Assert.Equal("version 2", Encoding.ASCII.GetString(second));
        Assert.Equal(2, _origin.Count("GET", "/changing"));
    }

    [Fact]
    public async Task StaleResponseWithETag_IsRevalidated_304ServesStoredBody()
    {
        await using var proxy = new ProxyHarness();
        byte[] body = TestOrigin.Payload(5000);
        _origin.Set("/validated", body, "\"abc\"", ("Cache-Control", "max-age=0"));

        await GetAsync(proxy, "/validated");
        (string head, byte[] second) = await GetAsync(proxy, "/validated");

        Assert.Equal(2, _origin.Count("GET", "/validated"));
        Assert.Equal("\"abc\"", _origin.LastRequestHeaders["/validated"]["If-None-Match"]);
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("ETag: \"abc\"", head);
        Assert.Equal(Sha256(body), Sha256(second));
    }

    [Fact]
    public async Task ClientNoCache_FreshEntry_IsRevalidatedWithOrigin()
    {
        await using var proxy = new ProxyHarness();
        byte[] body = TestOrigin.Payload(300);
        _origin.Set("/reload", body, "\"r1\"", ("Cache-Control", "max-age=600"));

        await GetAsync(proxy, "/reload");
        (_, byte[] second) = await GetAsync(proxy, "/reload", "Cache-Control: no-cache");
        (_, byte[] third) = await GetAsync(proxy, "/reload", "Pragma: no-cache");

        Assert.Equal(3, _origin.Count("GET", "/reload"));
        Assert.Equal("\"r1\"", _origin.LastRequestHeaders["/reload"]["If-None-Match"]);
        Assert.Equal(Sha256(body), Sha256(second));
        Assert.Equal(Sha256(body), Sha256(third));
    }

    [Fact]
    public async Task ClientConditionalRequest_GoesToOrigin_StoredEntryKept()
    {
        await using var proxy = new ProxyHarness();
        _origin.Set("/cond", "body"u8.ToArray(), "\"c1\"", ("Cache-Control", "max-age=600"));
        await GetAsync(proxy, "/cond");

        (string conditional, _) = await GetAsync(proxy, "/cond", "If-None-Match: \"c1\"");
        (_, byte[] after) = await GetAsync(proxy, "/cond");

        Assert.StartsWith("HTTP/1.1 304", conditional);
        Assert.Equal(2, _origin.Count("GET", "/cond"));
        Assert.Equal("body", Encoding.ASCII.GetString(after));
    }

    [Fact]
    public async Task OnlyIfCached_NothingStored_Gets504WithoutAskingOrigin()
    {
        await using var proxy = new ProxyHarness();
        _origin.Set("/never", "x"u8.ToArray(), null, ("Cache-Control", "max-age=600"));

        (string head, _) = await GetAsync(proxy, "/never", "Cache-Control: only-if-cached");

        Assert.StartsWith("HTTP/1.1 504", head);
        Assert.Equal(0, _origin.Count("GET", "/never"));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task UnsafeMethod_InvalidatesStoredResponse(string method)
    {
        await using var proxy = new ProxyHarness();
        _origin.Set("/item", "before"u8.ToArray(), null, ("Cache-Control", "max-age=600"));
        await GetAsync(proxy, "/item");
        await GetAsync(proxy, "/item");
        Assert.Equal(1, _origin.Count("GET", "/item"));

        CommandResult unsafeRequest = await CurlAsync("-x", proxy.ProxyUrl, "-X", method, "--data-binary", "x", $"{_origin.Url}/item");
        _origin.Set("/item", "after"u8.ToArray(), null, ("Cache-Control", "max-age=600"));
        (_, byte[] after) = await GetAsync(proxy, "/item");

        Assert.Equal("ok", unsafeRequest.StdOut);
        Assert.Equal(2, _origin.Count("GET", "/item"));
        Assert.Equal("after", Encoding.ASCII.GetString(after));
    }

    [Fact]
    public async Task VaryMismatch_IsAMiss_MatchIsAHit()
    {
        await using var proxy = new ProxyHarness();
        _origin.Set("/lang", "hello"u8.ToArray(), null, ("Cache-Control", "max-age=600"), ("Vary", "Accept-Language"));

        await GetAsync(proxy, "/lang", "Accept-Language: en");
        await GetAsync(proxy, "/lang", "Accept-Language: en");
        Assert.Equal(1, _origin.Count("GET", "/lang"));
        await GetAsync(proxy, "/lang", "Accept-Language: de");
        Assert.Equal(2, _origin.Count("GET", "/lang"));
        await GetAsync(proxy, "/lang");

        Assert.Equal(3, _origin.Count("GET", "/lang"));
    }

    [Fact]
    public async Task BodyOverMaxObjectBytes_PassesThroughIntact_AndIsNotStored()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { Cache = new HttpCacheOptions { MaxObjectBytes = 64 * 1024 } });
        byte[] body = TestOrigin.Payload(3 * 1024 * 1024);
        _origin.Set("/huge", body, null, ("Cache-Control", "max-age=600"));

        (_, byte[] first) = await GetAsync(proxy, "/huge");
        (_, byte[] second) = await GetAsync(proxy, "/huge");

        Assert.Equal(Sha256(body), Sha256(first));
        Assert.Equal(Sha256(body), Sha256(second));
        Assert.Equal(2, _origin.Count("GET", "/huge"));
        Assert.Equal(0, proxy.Handler.Cache!.Count);
    }

    [Fact]
    public async Task ResourceGrownBeyondMaxObjectBytes_OldStoredVersionIsDropped()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { Cache = new HttpCacheOptions { MaxObjectBytes = 64 * 1024 } });
        _origin.Set("/grows", "small"u8.ToArray(), "\"s\"", ("Cache-Control", "max-age=0"));
        await GetAsync(proxy, "/grows");
        Assert.Equal(1, proxy.Handler.Cache!.Count);

        byte[] big = TestOrigin.Payload(200_000);
        _origin.Set("/grows", big, "\"b\"", ("Cache-Control", "max-age=0"));
        (_, byte[] second) = await GetAsync(proxy, "/grows");

        Assert.Equal(Sha256(big), Sha256(second));
        Assert.Equal(0, proxy.Handler.Cache.Count);
    }

    [Fact]
    public async Task CacheDisabled_EveryRequestReachesOrigin()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { Cache = new HttpCacheOptions { Enabled = false } });
        _origin.Set("/off", "x"u8.ToArray(), null, ("Cache-Control", "max-age=600"));

        await GetAsync(proxy, "/off");
        (string head, _) = await GetAsync(proxy, "/off");

        Assert.Equal(2, _origin.Count("GET", "/off"));
        Assert.DoesNotContain("\nAge: ", head);
        Assert.Null(proxy.Handler.Cache);
    }

    [Fact]
    public async Task ManyObjects_StayWithinMaxBytes()
    {
        const int MaxBytes = 256 * 1024;
        await using var proxy = new ProxyHarness(new HttpProxyOptions { Cache = new HttpCacheOptions { MaxBytes = MaxBytes, MaxObjectBytes = 64 * 1024 } });
        List<string> args = ["-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}"];
        for (int i = 0; i < 40; i++)
        {
            _origin.Set($"/obj{i}", TestOrigin.Payload(20_000 + i), null, ("Cache-Control", "max-age=600"));
            args.AddRange(["-o", "/dev/null", $"{_origin.Url}/obj{i}"]);
        }

        CommandResult result = await CurlAsync([.. args]);

        Assert.Equal(0, result.ExitCode);
        Assert.InRange(proxy.Handler.Cache!.Bytes, 1, MaxBytes);
        Assert.InRange(proxy.Handler.Cache.Count, 2, 12);
    }

    /// <summary>One GET through the proxy on its own connection: the response head and body.</summary>
    private async Task<(string Head, byte[] Body)> GetAsync(ProxyHarness proxy, string path, string? header = null)
    {
        string file = Path.Combine(_work, $"body-{Guid.NewGuid():N}");
        List<string> args = ["-x", proxy.ProxyUrl, "-D", "-", "-o", file];
        if (header is not null)
        {
            args.AddRange(["-H", header]);
        }

        args.Add(_origin.Url + path);
        CommandResult result = await CurlAsync([.. args]);
        Assert.Equal(0, result.ExitCode);
        // curl writes no file for a response without a body (304, 504 here).
        return (result.StdOut, File.Exists(file) ? await File.ReadAllBytesAsync(file) : []);
    }

    private static async Task<CommandResult> CurlAsync(params string[] args) =>
        await ProcessRunner.RunAsync("curl", ["-s", "-S", "--max-time", "60", .. args], CurlTimeout);

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
