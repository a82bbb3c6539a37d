using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Host;

/// <summary>
/// Issue 13 "secrets and code": a plugin folder that others can write is code others can run as the gateway; the
/// published gateway refuses it at <c>check</c> and at start (naming the path), and keeps serving everything else.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PluginTrustTests
{
    [Fact]
    public async Task Check_WorldWritablePluginAssembly_ExitsTwoNamingThePath()
    {
        (string extra, string dll) = await EchoFolderAsync();
        File.SetUnixFileMode(dll, File.GetUnixFileMode(dll) | UnixFileMode.OtherWrite);
        string config = Path.Combine(extra, "gateway.yaml");
        await File.WriteAllTextAsync(config, $"host:\n  plugins: [\"{extra}\"]\necho:\n  listen: [127.0.0.1:{EchoClient.FreePort()}]\n");
        string gateway = await GatewayBuild.GatewayDirectoryAsync();

        CommandResult result = await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", config], TimeSpan.FromMinutes(2));

        Assert.True(result.ExitCode == 2, result.Output);
        Assert.Contains($"plugin not loaded: {dll} is writable by group or others", result.StdErr);
        Assert.Contains("chmod go-w", result.StdErr);
    }

    [Fact]
    public async Task Run_GroupWritablePluginFolder_PluginRefusedOthersServe()
    {
        (string extra, _) = await EchoFolderAsync();
        string folder = Path.Combine(extra, "echo");
        File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) | UnixFileMode.GroupWrite);
        int port = EchoClient.FreePort();
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        await using GatewayProcess process = await GatewayProcess.StartAsync(
            $"host:\n  plugins: [\"{Path.Combine(gateway, "plugins")}\", \"{extra}\"]\necho:\n  listen: [127.0.0.1:{port}]\n");

        Assert.Contains($"not loaded: {folder} is writable by group or others (mode 0775)", process.Output);
        Assert.Contains("plugin dns-dot: started", process.Output);
        Assert.Null(await EchoClient.UdpAsync(port, "anyone?", TimeSpan.FromSeconds(2)));

        // Fixed and replaced: the folder is loaded without a restart.
        File.SetUnixFileMode(folder, File.GetUnixFileMode(folder) & ~UnixFileMode.GroupWrite);
        EchoClient.RedeployFolder(await GatewayBuild.EchoPluginDirectoryAsync(), folder);
        Assert.Equal("echo: trusted now", await EchoClient.UdpUntilAsync(port, "trusted now", "echo: ", TimeSpan.FromSeconds(90)));
        Assert.Equal(0, await process.StopAsync());
    }

    /// <summary>A fresh plugin root holding the sample echo plugin; returns the root and the plugin's main assembly.</summary>
    private static async Task<(string Extra, string Dll)> EchoFolderAsync()
    {
        string extra = Path.Combine(Path.GetTempPath(), "gateway-e2e", "trust-" + Guid.NewGuid().ToString("N")[..12]);
        string folder = Path.Combine(extra, "echo");
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), folder);
        string dll = Path.Combine(folder, "Gateway.Samples.Echo.dll");
        return (extra, dll);
    }
}
