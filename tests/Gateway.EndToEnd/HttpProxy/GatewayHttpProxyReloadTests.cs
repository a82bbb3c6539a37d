using System.Diagnostics;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// Issue 14's Done means on the published gateway: an edit of gateway.yaml that denies a client takes effect for its
/// new requests within 3 s, while the download it started before the edit arrives intact (HttpProxyReloadTests does
/// the same in-process through Handler.Reload; this drives the file watcher and the plugin's reload).
/// </summary>
public sealed class GatewayHttpProxyReloadTests : IAsyncLifetime
{
    private const int BodyLength = 32 * 1024 * 1024;   // far more than the socket buffers hold: still in flight at the edit
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(3);
    private TestOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = new TestOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task EditConfig_ClientDenied_NewRequests403WithinThreeSecondsRunningDownloadIntact()
    {
        int port = TestOrigin.FreePort();
        string section = $"http-proxy:\n  listen: [\"127.0.0.1:{port}\"]\n";
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(section);
        string proxy = $"http://127.0.0.1:{port}";
        Assert.Equal("200", await StatusAsync(proxy));

        // The download starts under the old rules and is held mid-way (the client stops reading).
        using HeldDownload running = await HeldDownload.StartAsync(port, _origin, BodyLength);

        await File.WriteAllTextAsync(gateway.ConfigPath, section + "  denyClients: [127.0.0.1/32]\n");
        var sinceEdit = Stopwatch.StartNew();
        string status;
        do
        {
            status = await StatusAsync(proxy);
        }
        while (status != "403" && sinceEdit.Elapsed < TimeSpan.FromSeconds(20));

        Assert.True(status == "403", $"a new request still got {status} 20 s after the edit\n{gateway.Output}");
        Assert.True(sinceEdit.Elapsed < Bound, $"the denial took {sinceEdit.Elapsed.TotalSeconds:F1} s to apply (bound {Bound.TotalSeconds} s)");

        await running.FinishIntactAsync();

        // And back: the client is served again once the deny is removed, from the same process.
        await File.WriteAllTextAsync(gateway.ConfigPath, section);
        var sinceUndo = Stopwatch.StartNew();
        while ((status = await StatusAsync(proxy)) != "200" && sinceUndo.Elapsed < TimeSpan.FromSeconds(20))
        {
        }

        Assert.Equal("200", status);
        Assert.False(gateway.HasExited);
    }

    private async Task<string> StatusAsync(string proxy) =>
        (await ProcessRunner.RunAsync(
            "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-x", proxy, $"{_origin.Url}/bytes/16"], TimeSpan.FromSeconds(30))).StdOut;
}
