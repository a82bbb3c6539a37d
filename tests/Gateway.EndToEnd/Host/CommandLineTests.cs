using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Host;

/// <summary>The published <c>gateway</c> executable's exit codes and messages (DESIGN §6).</summary>
public sealed class CommandLineTests
{
    [Fact]
    public async Task Check_ShippedGatewayYaml_ExitsZero()
    {
        CommandResult result = await CheckAsync(Path.Combine(GatewayBuild.RepositoryRoot, "gateway.yaml"));

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains("config OK", result.StdOut);
        Assert.Contains("dns-dot", result.StdOut);
    }

    [Theory]
    [InlineData("host:\n  tun: [oops\n", "invalid YAML")]
    [InlineData("host:\n  tun:\n    enabled: perhaps\n", "host.tun.enabled: 'perhaps' is not true or false")]
    [InlineData("host:\n  tun:\n    addresses: [10.1.2.3/99]\n", "host.tun.addresses[0]")]
    [InlineData("http-proxy:\n  listen: [127.0.0.1:70000]\n", "http-proxy.listen[0]")]
    [InlineData("host:\n  admn: { listen: 127.0.0.1:9090 }\n", "host.admn: unknown key")]
    [InlineData("host:\n  tun: { enabled: true, name: \"\" }\n", "host.tun.name: required")]
    public async Task Check_BrokenFile_ExitsTwoWithFileLineColumn(string yaml, string expected)
    {
        string path = Path.Combine(NewFolder(), "gateway.yaml");
        await File.WriteAllTextAsync(path, yaml);

        CommandResult result = await CheckAsync(path);

        Assert.True(result.ExitCode == 2, result.Output);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(path)}:\d+:\d+: ", result.StdErr);
        Assert.Contains(expected, result.StdErr);
    }

    [Fact]
    public async Task Check_SectionForPluginNotLoaded_ExitsZeroWithWarning()
    {
        string path = Path.Combine(NewFolder(), "gateway.yaml");
        await File.WriteAllTextAsync(path, "dns-dots:\n  listen: [127.0.0.1:5353]\n");

        CommandResult result = await CheckAsync(path);

        // The same as at start and reload: a warning naming the place, not a refusal (the plugin may come later).
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Contains($"warning: {path}:1:1: dns-dots: no loaded plugin has the id 'dns-dots'", result.StdErr);
    }

    /// <summary>Issue 13: an admin listener others can reach needs a token; check says where, and a token file makes it pass.</summary>
    [Theory]
    [InlineData("0.0.0.0:9090")]
    [InlineData("192.0.2.1:9090")]
    [InlineData("\"[::]:9090\"")]
    public async Task Check_AdminOnNonLoopbackWithoutToken_ExitsTwoAtListenThenPassesWithTokenFile(string listen)
    {
        string folder = NewFolder();
        string path = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(path, $"host:\n  admin:\n    listen: {listen}\n");

        CommandResult refused = await CheckAsync(path);

        Assert.True(refused.ExitCode == 2, refused.Output);
        Assert.Contains($"{path}:3:5: host.admin.listen: ", refused.StdErr);
        Assert.Contains("is not a loopback address: set host.admin.tokenFile", refused.StdErr);

        string tokenFile = await Admin.AdminToken.WriteAsync(folder, "check-test-token-0123456789abcdef");
        await File.WriteAllTextAsync(path, $"host:\n  admin:\n    listen: {listen}\n    tokenFile: {tokenFile}\n");
        CommandResult accepted = await CheckAsync(path);
        Assert.True(accepted.ExitCode == 0, accepted.Output);
    }

    [Fact]
    public async Task Check_MissingFile_ExitsTwo()
    {
        CommandResult result = await CheckAsync(Path.Combine(NewFolder(), "nothing-here.yaml"));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("config file not found", result.StdErr);
    }

    [Fact]
    public async Task Run_BrokenFile_ExitsTwoBeforeStarting()
    {
        string path = Path.Combine(NewFolder(), "gateway.yaml");
        await File.WriteAllTextAsync(path, "host:\n  admin:\n    listen: nowhere\n");
        string gateway = await GatewayBuild.GatewayDirectoryAsync();

        CommandResult result = await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["run", "--config", path], TimeSpan.FromMinutes(2));

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{path}:3:5: host.admin.listen", result.StdErr);
        Assert.DoesNotContain(GatewayProcess.ReadyLine, result.StdOut);
    }

    [Fact]
    public async Task Run_Sigterm_ExitsZero()
    {
        string empty = NewFolder();
        await using GatewayProcess process = await GatewayProcess.StartAsync($"host:\n  plugins: [\"{empty}\"]\n");

        Assert.Contains(GatewayProcess.ReadyLine, process.Output);
        Assert.Equal(0, await process.StopAsync());
        Assert.Contains("gateway stopped", process.Output);
    }

    private static async Task<CommandResult> CheckAsync(string config)
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        return await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", config], TimeSpan.FromMinutes(2));
    }

    private static string NewFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "cli-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
