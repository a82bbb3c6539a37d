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
    public async Task DropIn_NewReplacedRemovedPlugin_LoadsReplacesAndUnloadsWithoutRestart()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string echoV1 = await GatewayBuild.EchoPluginDirectoryAsync();
        string echoV2 = await GatewayBuild.PublishAsync("tests/SamplePlugin", "echo-v2", "-p:EchoVariant=V2");
        string extra = NewFolder();
        int port = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync(Config(gateway, extra, port, string.Empty));
        string target = Path.Combine(extra, "echo");

        EchoClient.CopyFolder(echoV1, target);

        Assert.Equal("echo: hello", await EchoClient.UdpUntilAsync(port, "hello", "echo: ", Patience));
        Assert.Equal("echo: over tcp", await EchoClient.TcpAsync(port, "over tcp", TimeSpan.FromSeconds(20)));

        EchoClient.CopyFolder(echoV2, target);

        Assert.Equal("echo v2: hello", await EchoClient.UdpUntilAsync(port, "hello", "echo v2: ", Patience));
        Assert.Equal("echo v2: over tcp", await EchoClient.TcpAsync(port, "over tcp", TimeSpan.FromSeconds(20)));
        Assert.False(process.HasExited);

        Directory.Delete(target, recursive: true);

        // The replacement unloaded v1 already; the removal must unload v2 as well.
        await process.WaitForOutputAsync("plugin folder change: removed", Patience);
        await WaitForCountAsync(process, "plugin echo: unloaded (load context collected)", 2);
        Assert.DoesNotContain("leak", process.Output);
        Assert.Null(await EchoClient.UdpAsync(port, "anyone?", TimeSpan.FromSeconds(2)));
        Assert.Equal(0, await process.StopAsync());
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

    private static int CountOf(string text, string needle)
    {
        int count = 0;
        for (int at = text.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = text.IndexOf(needle, at + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string Config(string gateway, string extra, int port, string echoExtra) => $"""
        host:
          plugins: ["{Path.Combine(gateway, "plugins")}", "{extra}"]
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
