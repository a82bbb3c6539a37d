using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Host;

/// <summary>
/// The published gateway with an extra, initially empty plugin folder: the sample echo plugin is dropped in, replaced
/// by a rebuilt version and removed, all without a restart; failing plugins leave the gateway serving.
/// </summary>
public sealed class PluginDropInTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task DropIn_NewReplacedRemovedPlugin_SwapsUnderTrafficWithoutLossAndUnloads()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string echoV1 = await GatewayBuild.EchoPluginDirectoryAsync();
        string echoV2 = await GatewayBuild.PublishAsync("tests/SamplePlugin", "echo-v2", "-p:EchoVariant=V2");
        string extra = NewFolder();
        int port = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync(Config(gateway, extra, port, string.Empty, drainSeconds: 30));
        string target = Path.Combine(extra, "echo");

        EchoClient.CopyFolder(echoV1, target);

        Assert.Equal("echo: hello", await EchoClient.UdpUntilAsync(port, "hello", "echo: ", Patience));
        Assert.Equal("echo: over tcp", await EchoClient.TcpAsync(port, "over tcp", TimeSpan.FromSeconds(20)));

        // A connection opened before the swap, and UDP queries sent one after another all through it.
        using var held = new HeldConnection(port);
        Assert.Equal("echo: before", await held.AskAsync("before"));
        using var traffic = new CancellationTokenSource();
        Task<(int Asked, List<string> Lost, int V2)> load = UdpLoadAsync(port, traffic.Token);

        EchoClient.CopyFolder(echoV2, target);

        Assert.Equal("echo v2: hello", await EchoClient.UdpUntilAsync(port, "hello", "echo v2: ", Patience));
        Assert.Equal("echo v2: over tcp", await EchoClient.TcpAsync(port, "over tcp", TimeSpan.FromSeconds(20)));
        await process.WaitForOutputAsync("plugin echo: old version draining", Patience);

        // The old version drains: the connection it accepted is still served by it, on the same port.
        Assert.Equal("echo: during drain", await held.AskAsync("during drain"));
        Assert.DoesNotContain("plugin echo: unloaded", process.Output);

        await Task.Delay(500);
        traffic.Cancel();
        (int asked, List<string> lost, int v2) = await load;
        Assert.True(lost.Count == 0, $"{lost.Count} of {asked} UDP queries lost during the swap: {string.Join(", ", lost.Take(5))}");
        Assert.True(v2 > 0, "the new version answered none of the queries sent during the swap");

        // Closing the last old connection ends the drain: the old version unloads (verified, no leak).
        held.Dispose();
        await WaitForCountAsync(process, "plugin echo: unloaded (load context collected)", 1);
        Assert.False(process.HasExited);

        Directory.Delete(target, recursive: true);

        // The removal must unload v2 as well.
        await process.WaitForOutputAsync("plugin folder change: removed", Patience);
        await WaitForCountAsync(process, "plugin echo: unloaded (load context collected)", 2);
        Assert.DoesNotContain("leak", process.Output);
        Assert.Null(await EchoClient.UdpAsync(port, "anyone?", TimeSpan.FromSeconds(2)));
        Assert.Equal(0, await process.StopAsync());
    }

    [Fact]
    public async Task Replace_BrokenBuild_OldVersionKeepsAnsweringAndSaysWhy()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string extra = NewFolder();
        string target = Path.Combine(extra, "echo");
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), target);
        int port = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync(Config(gateway, extra, port, string.Empty));
        Assert.Equal("echo: hello", await EchoClient.UdpUntilAsync(port, "hello", "echo: ", Patience));

        // A broken build: it carries its own Gateway.Sdk.dll, which the loader refuses.
        File.Copy(Path.Combine(gateway, "Gateway.Sdk.dll"), Path.Combine(target, "Gateway.Sdk.dll"));

        await process.WaitForOutputAsync("plugin echo: the new build was not taken, the running version keeps serving", Patience);
        Assert.Contains("Gateway.Sdk.dll found in", process.Output);
        Assert.Equal("echo: still here", await EchoClient.UdpAsync(port, "still here", TimeSpan.FromSeconds(5)));
        Assert.Equal("echo: over tcp", await EchoClient.TcpAsync(port, "over tcp", TimeSpan.FromSeconds(20)));
        Assert.DoesNotContain("plugin echo: stopped", process.Output);
        Assert.Equal(0, await process.StopAsync());
    }

    /// <summary>UDP queries one after another until cancelled; a query without an answer within 2 s is lost.</summary>
    private static async Task<(int Asked, List<string> Lost, int V2)> UdpLoadAsync(int port, CancellationToken stop)
    {
        int asked = 0, v2 = 0;
        var lost = new List<string>();
        while (!stop.IsCancellationRequested)
        {
            string text = "q" + asked++;
            string? answer = await EchoClient.UdpAsync(port, text, TimeSpan.FromSeconds(2));
            if (answer is null || !answer.EndsWith(text, StringComparison.Ordinal))
            {
                lost.Add(text + " -> " + (answer ?? "nothing"));
            }
            else if (answer.StartsWith("echo v2: ", StringComparison.Ordinal))
            {
                v2++;
            }
        }

        return (asked, lost, v2);
    }

    /// <summary>A TCP connection kept open across a swap.</summary>
    private sealed class HeldConnection : IDisposable
    {
        private readonly System.Net.Sockets.TcpClient _client = new(System.Net.Sockets.AddressFamily.InterNetwork);
        private readonly int _port;
        private StreamReader? _reader;

        public HeldConnection(int port) => _port = port;

        public async Task<string?> AskAsync(string line)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            if (_reader is null)
            {
                await _client.ConnectAsync(System.Net.IPAddress.Loopback, _port, timeout.Token);
                _reader = new StreamReader(_client.GetStream());
            }

            await _client.GetStream().WriteAsync(System.Text.Encoding.UTF8.GetBytes(line + "\n"), timeout.Token);
            return await _reader.ReadLineAsync(timeout.Token);
        }

        public void Dispose()
        {
            _reader?.Dispose();
            _client.Dispose();
        }
    }

    [Fact]
    public async Task Handler_ThrowsOnPayload_GatewayKeepsServing()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string extra = NewFolder();
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), Path.Combine(extra, "echo"));
        int port = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync(Config(gateway, extra, port, "  throwOn: boom\n"));

        Assert.Null(await EchoClient.UdpAsync(port, "boom", TimeSpan.FromSeconds(2)));
        Assert.Null(await EchoClient.TcpAsync(port, "boom", TimeSpan.FromSeconds(10)));

        Assert.Equal("echo: after", await EchoClient.UdpUntilAsync(port, "after", "echo: ", Patience));
        Assert.Equal("echo: after", await EchoClient.TcpAsync(port, "after", TimeSpan.FromSeconds(20)));
        await process.WaitForOutputAsync("plugin echo: a handler threw", Patience);
        Assert.Equal(0, await process.StopAsync());
    }

    [Fact]
    public async Task Start_PluginThrows_OthersStartAndGatewayReady()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string extra = NewFolder();
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), Path.Combine(extra, "echo"));
        int port = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync(Config(gateway, extra, port, "  failStart: true\n"));

        Assert.Contains("plugin echo: start failed", process.Output);
        Assert.Contains("plugin dns-dot: started", process.Output);
        Assert.Contains("plugin http-proxy: started", process.Output);

        // Fixing the file brings the failed plugin up without a restart.
        await File.WriteAllTextAsync(process.ConfigPath, Config(gateway, extra, port, "  failStart: false\n"));

        Assert.Equal("echo: fixed", await EchoClient.UdpUntilAsync(port, "fixed", "echo: ", Patience));
        Assert.False(process.HasExited);
        Assert.Equal(0, await process.StopAsync());
    }

    [Fact]
    public async Task Start_PluginThrowsAfterBindingItsOwnPort_StoppedSoThePortIsFreeAndTheFixedStartBindsItAgain()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string extra = NewFolder();
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), Path.Combine(extra, "echo"));
        int port = EchoClient.FreePort();
        int held = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync(Config(gateway, extra, port, $"  failStart: true\n  holdPort: {held}\n"));

        // echo listened on `held` itself (the host knows nothing of it), then threw. The host logs the failure once the
        // plugin's StopAsync has run: the port is free again.
        Assert.Contains("plugin echo: start failed", process.Output);
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, held))
        {
            probe.Start();
        }

        // Fixing the file starts it again, and this time it can listen there.
        await File.WriteAllTextAsync(process.ConfigPath, Config(gateway, extra, port, $"  failStart: false\n  holdPort: {held}\n"));
        Assert.Equal("echo: fixed", await EchoClient.UdpUntilAsync(port, "fixed", "echo: ", Patience));
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, held);
        Assert.Equal(1, CountOf(process.Output, "plugin echo: start failed"));
        Assert.Equal(0, await process.StopAsync());
    }

    private static async Task WaitForCountAsync(GatewayProcess process, string needle, int count)
    {
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (CountOf(process.Output, needle) < count)
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException($"'{needle}' seen {CountOf(process.Output, needle)} times, expected {count}:\n{process.Output}");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>How often <paramref name="needle"/> occurs in <paramref name="text"/> (log lines in the gateway's output).</summary>
    internal static int CountOf(string text, string needle)
    {
        int count = 0;
        for (int at = text.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = text.IndexOf(needle, at + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string Config(string gateway, string extra, int port, string echoExtra, int drainSeconds = 30) => $"""
        host:
          plugins: ["{Path.Combine(gateway, "plugins")}", "{extra}"]
          drainTimeoutSeconds: {drainSeconds}
        echo:
          listen: [127.0.0.1:{port}]
        {echoExtra}
        """;

    private static string NewFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "extra-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
