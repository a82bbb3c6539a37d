using Gateway.EndToEnd.Infrastructure;
using Gateway.Sdk.Networking;
using Gateway.Plugins.HttpProxy.Configuration;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// Issue 14: a reloaded http-proxy section applies to new connections at once, while a download admitted under the
/// old rules finishes intact (the whole gateway, gateway.yaml edit included, is driven by scripts/soak.sh).
/// </summary>
public sealed class HttpProxyReloadTests : IAsyncLifetime
{
    private const int BodyLength = 32 * 1024 * 1024;   // far more than the socket buffers hold: still in flight at the reload
    private TestOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = new TestOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task Reload_ClientDeniedWhileItsDownloadRuns_NewRequestGets403AndRunningDownloadArrivesIntact()
    {
        await using var proxy = new ProxyHarness();
        using HeldDownload running = await HeldDownload.StartAsync(proxy.Port, _origin, BodyLength);

        IReadOnlyList<string> restartOnly = proxy.Handler.Reload(new HttpProxyOptions { DenyClients = [IpPrefix.Parse("127.0.0.1/32")] });

        Assert.Empty(restartOnly);
        CommandResult denied = await ProcessRunner.RunAsync(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-x", proxy.ProxyUrl, $"{_origin.Url}/bytes/16"], TimeSpan.FromSeconds(30));
        Assert.Equal("403", denied.StdOut);

        await running.FinishIntactAsync();
    }

    [Fact]
    public async Task Reload_DeniedClientAllowedAgain_NextRequestServed()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { DenyClients = [IpPrefix.Parse("127.0.0.1/32")] });
        Assert.Equal("403", await StatusAsync(proxy));

        proxy.Handler.Reload(new HttpProxyOptions());

        Assert.Equal("200", await StatusAsync(proxy));
    }

    [Fact]
    public async Task Reload_CacheTurnedOff_NewRulesHaveNoCacheAndPoolChangeIsReported()
    {
        await using var proxy = new ProxyHarness();
        Assert.NotNull(proxy.Handler.Cache);

        IReadOnlyList<string> restartOnly = proxy.Handler.Reload(new HttpProxyOptions
        {
            Cache = new HttpCacheOptions { Enabled = false },
            PoolMaxIdlePerOrigin = 1,
            OriginResponseTimeout = TimeSpan.FromSeconds(5),
        });

        Assert.Null(proxy.Handler.Cache);
        Assert.Equal(TimeSpan.FromSeconds(5), proxy.Handler.Options.OriginResponseTimeout);
        Assert.Equal(["poolMaxIdlePerOrigin/poolIdleTimeout"], restartOnly);
        Assert.Equal("200", await StatusAsync(proxy));
    }

    [Fact]
    public async Task Reload_CollapsingTurnedOff_CacheAndEntriesKept_ConcurrentMissesEachAskTheOrigin()
    {
        await using var origin = new CachingOrigin();
        origin.Set("/kept", "stored before"u8.ToArray(), null, ("Cache-Control", "max-age=600"));
        origin.Set("/slow", "slow"u8.ToArray(), null, ("Cache-Control", "max-age=600"));
        origin.Delay("/slow", TimeSpan.FromSeconds(1));
        await using var proxy = new ProxyHarness();
        Assert.Equal("200", await CurlAsync(proxy, "-o", "/dev/null", origin.Url + "/kept"));
        Gateway.Plugins.HttpProxy.Cache.HttpCache? before = proxy.Handler.Cache;

        proxy.Handler.Reload(new HttpProxyOptions { Cache = new HttpCacheOptions { CollapsedForwarding = false, CollapsedWait = TimeSpan.FromSeconds(1) } });
        string statuses = await CurlAsync(proxy, "--parallel", "--parallel-immediate",
            "-o", "/dev/null", origin.Url + "/slow", "-o", "/dev/null", origin.Url + "/slow", "-o", "/dev/null", origin.Url + "/slow");

        Assert.Same(before, proxy.Handler.Cache);
        Assert.Equal("200200200", statuses);
        Assert.Equal("200", await CurlAsync(proxy, "-o", "/dev/null", origin.Url + "/kept"));
        Assert.Equal(1, origin.Count("GET", "/kept"));
        Assert.InRange(origin.Count("GET", "/slow"), 2, 3);
    }

    private static async Task<string> CurlAsync(ProxyHarness proxy, params string[] args) =>
        (await ProcessRunner.RunAsync(
            "curl", ["-s", "-w", "%{http_code}", "--max-time", "30", "-x", proxy.ProxyUrl, .. args], TimeSpan.FromSeconds(60))).StdOut;

    private async Task<string> StatusAsync(ProxyHarness proxy) =>
        (await ProcessRunner.RunAsync(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-x", proxy.ProxyUrl, $"{_origin.Url}/bytes/16"], TimeSpan.FromSeconds(30))).StdOut;
}
