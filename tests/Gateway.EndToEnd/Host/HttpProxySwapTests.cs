using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Gateway.EndToEnd.Admin;
using Gateway.EndToEnd.HttpProxy;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Host;

/// <summary>
/// Issue 14, "Done means": a 20 MiB download from a rate-limited origin (2 MiB/s, so about ten seconds: the swap fits
/// inside it on a loaded machine) through the published gateway's http-proxy while the http-proxy plugin folder is
/// replaced by a fresh copy of the build. The download, admitted by the old version, finishes byte for byte on it; a
/// request after the swap is served by the new version (its own stats count it, and did not count the running
/// download); the old version is unloaded only once the download is over.
/// </summary>
public sealed class HttpProxySwapTests : IAsyncLifetime
{
    private const int BodyLength = 20 * 1024 * 1024;
    private const int BytesPerSecond = 2 * 1024 * 1024;
    private const string Token = "e2e-proxy-swap-token-0123456789ab";
    private const string Unloaded = "plugin http-proxy: unloaded (load context collected)";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    private readonly string _work = Path.Combine(Path.GetTempPath(), "gateway-e2e", "proxyswap-" + Guid.NewGuid().ToString("N")[..12]);
    private TestOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = new TestOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task Replace_HttpProxyFolderDuringRateLimitedDownload_DownloadIntactNewVersionServesOldUnloadedAfter()
    {
        // A plugin root of our own holding only http-proxy, so that its folder can be replaced.
        string published = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "plugins", "http-proxy");
        string plugins = Path.Combine(_work, "plugins");
        EchoClient.CopyFolder(published, Path.Combine(plugins, "http-proxy"));
        string tokenFile = await AdminToken.WriteAsync(_work, Token);
        int admin = EchoClient.FreePort();
        int proxy = EchoClient.FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync($"""
            host:
              plugins: ["{plugins}"]
              drainTimeoutSeconds: 60
              admin:
                listen: 127.0.0.1:{admin}
                tokenFile: {tokenFile}
            http-proxy:
              listen: ["127.0.0.1:{proxy}"]
            """);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

        // The download starts on the first version and is well under way before the swap.
        string file = Path.Combine(_work, "download.bin");
        Task<CommandResult> download = ProcessRunner.RunAsync(
            "curl",
            ["-sS", "--max-time", "120", "-x", $"http://127.0.0.1:{proxy}", "-o", file, "-w", "%{http_code} %{size_download}", $"{_origin.Url}/paced/{BodyLength}/{BytesPerSecond}"],
            TimeSpan.FromSeconds(150));
        await WaitUntilAsync(() => File.Exists(file) && new FileInfo(file).Length >= 1024 * 1024, "the download never reached 1 MiB");
        Assert.Equal(1, (await StatsAsync(http, admin)).GetProperty("activeConnections").GetInt64());

        // A fresh copy of the build over the running one (new modification times), as a deploy would.
        EchoClient.RedeployFolder(published, Path.Combine(plugins, "http-proxy"));
        await gateway.WaitForOutputAsync("plugin http-proxy: old version draining", Patience);
        Assert.False(download.IsCompleted, "the swap finished only after the download: nothing was measured during it");
        Assert.Equal(2, PluginDropInTests.CountOf(gateway.Output, "plugin http-proxy: loaded "));
        Assert.Equal(2, PluginDropInTests.CountOf(gateway.Output, "plugin http-proxy: started"));

        // The new version's own counters (a request counts once answered) start empty: the running download is not on it.
        JsonElement fresh = await StatsAsync(http, admin);
        Assert.Equal(0, fresh.GetProperty("requests").GetInt64());
        Assert.Equal(0, fresh.GetProperty("activeConnections").GetInt64());

        // A new request after the swap: served intact, and by the new version (it counts it).
        string small = Path.Combine(_work, "small.bin");
        CommandResult after = await ProcessRunner.RunAsync(
            "curl", ["-sS", "--max-time", "30", "-x", $"http://127.0.0.1:{proxy}", "-o", small, "-w", "%{http_code}", $"{_origin.Url}/bytes/4096"], TimeSpan.FromSeconds(60));
        Assert.Equal("200", after.StdOut);
        Assert.Equal(SHA256.HashData(TestOrigin.Payload(4096)), SHA256.HashData(await File.ReadAllBytesAsync(small)));
        // A request counts once its last bytes are sent: curl can have them (and exit) a moment before the count.
        long requests = 0;
        long until = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while ((requests = (await StatsAsync(http, admin)).GetProperty("requests").GetInt64()) == 0 && Environment.TickCount64 < until)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, requests);

        // While the download runs, the old version drains and stays loaded.
        Assert.False(download.IsCompleted, "the download ended before the new version was checked");
        while (!download.IsCompleted)
        {
            Assert.DoesNotContain(Unloaded, gateway.Output);
            await Task.WhenAny(download, Task.Delay(100));
        }

        CommandResult result = await download;
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal($"200 {BodyLength}", result.StdOut);
        Assert.Equal(SHA256.HashData(TestOrigin.Payload(BodyLength)), SHA256.HashData(await File.ReadAllBytesAsync(file)));

        // With its last connection closed the old version finishes draining, is unloaded and the unload verified.
        await gateway.WaitForOutputAsync(Unloaded, Patience);
        Assert.DoesNotContain("leak", gateway.Output);
        Assert.DoesNotContain("drain timeout reached", gateway.Output);
        Assert.Equal("200", (await ProcessRunner.RunAsync(
            "curl", ["-sS", "--max-time", "30", "-x", $"http://127.0.0.1:{proxy}", "-o", "/dev/null", "-w", "%{http_code}", $"{_origin.Url}/bytes/16"], TimeSpan.FromSeconds(60))).StdOut);
        Assert.Equal(0, await gateway.StopAsync());
    }

    private static async Task<JsonElement> StatsAsync(HttpClient http, int admin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{admin}/api/v1/plugins/http-proxy/stats");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await http.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string failure)
    {
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, failure);
            await Task.Delay(50);
        }
    }
}
