using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Gateway.EndToEnd.Admin;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// Collapsed forwarding (squid's collapsed_forwarding, <c>cache.collapsedForwarding</c>) in the published gateway: one
/// curl runs 50 transfers at once (<c>--parallel --parallel-immediate</c>: 50 connections to the proxy, all started
/// together) for the same uncached URL of a slow local origin that counts the requests reaching it; the admin API's
/// stats and the access log say how many were answered by another request's fetch.
/// </summary>
public sealed class GatewayCollapsedForwardingTests : IAsyncLifetime
{
    private const int Clients = 50;
    private const string Token = "e2e-collapsed-forwarding-0123456789";

    // Slow enough that the 50 requests arrive while the first one is still being fetched, even on a loaded machine.
    private static readonly TimeSpan OriginDelay = TimeSpan.FromSeconds(1);
    private static readonly byte[] Body = TestOrigin.Payload(256 * 1024);

    private readonly string _work = Directory.CreateTempSubdirectory("http-proxy-collapse-").FullName;
    private CachingOrigin _origin = null!;
    private GatewayProcess? _gateway;
    private int _proxyPort;
    private int _adminPort;

    public Task InitializeAsync()
    {
        _origin = new CachingOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await _origin.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task ConcurrentMisses_CacheableSlowResponse_OneOriginRequestAndEveryBodyIntact()
    {
        // The wait bound is raised so that a slow CI machine cannot turn waiters into origin requests: this test is
        // about collapsing, the bound has its unit tests.
        await StartGatewayAsync("collapsedWaitMs: 60000");
        _origin.Set("/slow", Body, null, ("Cache-Control", "max-age=600"));
        _origin.Delay("/slow", OriginDelay);

        await FetchConcurrentlyAsync("/slow");

        Assert.Equal(1, _origin.Count("GET", "/slow"));
        JsonElement cache = (await StatsAsync()).GetProperty("cache");
        Assert.Equal(1, cache.GetProperty("misses").GetInt64());
        Assert.Equal(Clients - 1, cache.GetProperty("hits").GetInt64());
        long collapsed = cache.GetProperty("collapsed").GetInt64();
        Assert.InRange(collapsed, 1, Clients - 1);
        string[] results = await AccessLogResultsAsync();
        Assert.Equal(1, results.Count(r => r == "TCP_MISS/200"));
        Assert.Equal(collapsed, results.Count(r => r == "TCP_CF_HIT/200"));
        Assert.Equal(Clients - 1 - collapsed, results.Count(r => r == "TCP_HIT/200"));
    }

    [Fact]
    public async Task ConcurrentMisses_NoStoreResponse_EveryRequestReachesTheOriginAndSucceeds()
    {
        await StartGatewayAsync("collapsedWaitMs: 60000");
        _origin.Set("/private", Body, null, ("Cache-Control", "no-store"));
        _origin.Delay("/private", OriginDelay);

        await FetchConcurrentlyAsync("/private");

        // Waiters were released when the first answer said no-store, not after collapsedWaitMs (the transfers would
        // have taken a minute; curl's --max-time is 60 s).
        Assert.Equal(Clients, _origin.Count("GET", "/private"));
        Assert.Equal(0, (await StatsAsync()).GetProperty("cache").GetProperty("collapsed").GetInt64());
    }

    [Fact]
    public async Task ConcurrentMisses_CollapsingOff_MoreThanOneOriginRequest()
    {
        await StartGatewayAsync("collapsedForwarding: false");
        _origin.Set("/slow", Body, null, ("Cache-Control", "max-age=600"));
        _origin.Delay("/slow", OriginDelay);

        await FetchConcurrentlyAsync("/slow");

        Assert.InRange(_origin.Count("GET", "/slow"), 2, Clients);
        Assert.Equal(0, (await StatsAsync()).GetProperty("cache").GetProperty("collapsed").GetInt64());
    }

    private async Task StartGatewayAsync(string cacheKey)
    {
        string tokenFile = await AdminToken.WriteAsync(Path.Combine(_work, "admin"), Token);
        _proxyPort = TestOrigin.FreePort();
        _adminPort = TestOrigin.FreePort();
        _gateway = await GatewayProcess.StartAsync($"""
            host:
              admin:
                listen: 127.0.0.1:{_adminPort}
                tokenFile: {tokenFile}
            http-proxy:
              listen: ["127.0.0.1:{_proxyPort}"]
              accessLog:
                path: "{AccessLog}"
                format: squid
              cache:
                {cacheKey}
            """);
    }

    /// <summary>50 GETs of <paramref name="path"/> on 50 connections at once; each must be a 200 with the whole body.</summary>
    private async Task FetchConcurrentlyAsync(string path)
    {
        List<string> args = ["-s", "-S", "--max-time", "60", "--parallel", "--parallel-immediate", "--parallel-max", $"{Clients}",
            "-x", $"http://127.0.0.1:{_proxyPort}", "-w", "%{http_code}\n"];
        for (int i = 0; i < Clients; i++)
        {
            args.AddRange(["-o", Path.Combine(_work, $"body-{i}"), _origin.Url + path]);
        }

        CommandResult result = await ProcessRunner.RunAsync("curl", args, TimeSpan.FromSeconds(120));

        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.Equal(Enumerable.Repeat("200", Clients), result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string expected = Convert.ToHexStringLower(SHA256.HashData(Body));
        for (int i = 0; i < Clients; i++)
        {
            Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(_work, $"body-{i}")))));
        }
    }

    private string AccessLog => Path.Combine(_work, "access.log");

    /// <summary>The result/status field of each access log line, once all <see cref="Clients"/> are written (a background task writes them).</summary>
    private async Task<string[]> AccessLogResultsAsync()
    {
        string[] lines = [];
        for (int i = 0; i < 300 && lines.Length < Clients; i++)
        {
            await Task.Delay(100);
            lines = File.Exists(AccessLog) ? await File.ReadAllLinesAsync(AccessLog) : [];
        }

        Assert.Equal(Clients, lines.Length);
        // squid's native format: time.ms elapsed client result/status bytes method URL user hierarchy/peer type.
        return [.. lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])];
    }

    private async Task<JsonElement> StatsAsync()
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_adminPort}/api/v1/plugins/http-proxy/stats");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
