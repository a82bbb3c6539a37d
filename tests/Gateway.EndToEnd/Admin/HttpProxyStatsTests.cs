using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.HttpProxy;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Admin;

/// <summary>
/// http-proxy's <c>GET stats</c> through the admin listener of the published gateway (issue 17): after curl fetched a
/// cacheable resource twice through the proxy it counts two requests, one cache hit and one miss, one origin
/// request and one stored entry; without the token it is 401.
/// </summary>
public sealed class HttpProxyStatsTests
{
    private const string Token = "e2e-proxy-stats-token-0123456789";

    [Fact]
    public async Task Stats_AfterAMissAndAHit_CountsRequestsCacheAndOrigin()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "proxystats-" + Guid.NewGuid().ToString("N")[..12]);
        string tokenFile = await AdminToken.WriteAsync(folder, Token);
        await using var origin = new CachingOrigin();
        origin.Set("/fresh", "cached body"u8.ToArray(), null, ("Cache-Control", "max-age=600"));
        int admin = EchoClient.FreePort();
        int proxy = EchoClient.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($"""
            host:
              admin:
                listen: 127.0.0.1:{admin}
                tokenFile: {tokenFile}
            http-proxy:
              listen: ["127.0.0.1:{proxy}"]
            """);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
        string url = $"http://127.0.0.1:{admin}/api/v1/plugins/http-proxy/stats";

        using (HttpResponseMessage refused = await http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        for (int i = 0; i < 2; i++)
        {
            CommandResult curl = await ProcessRunner.RunAsync("curl", ["-sS", "-x", $"http://127.0.0.1:{proxy}", "-o", "/dev/null", "-w", "%{http_code}", origin.Url + "/fresh"], TimeSpan.FromSeconds(60));
            Assert.Equal("200", curl.StdOut);
        }

        Assert.Equal(1, origin.Count("GET", "/fresh"));
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement stats = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(2, stats.GetProperty("requests").GetInt64());
        Assert.True(stats.GetProperty("requestsPerSecond").GetDouble() > 0);
        JsonElement cache = stats.GetProperty("cache");
        Assert.True(cache.GetProperty("enabled").GetBoolean());
        Assert.Equal(1, cache.GetProperty("hits").GetInt64());
        Assert.Equal(1, cache.GetProperty("misses").GetInt64());
        Assert.Equal(0.5, cache.GetProperty("hitRatio").GetDouble());
        Assert.Equal(1, cache.GetProperty("entries").GetInt64());
        Assert.True(cache.GetProperty("bytes").GetInt64() > 0);
        Assert.Equal(1, stats.GetProperty("originRequests").GetInt64());
        Assert.Equal(0, stats.GetProperty("activeTunnels").GetInt64());
        Directory.Delete(folder, recursive: true);
    }
}
