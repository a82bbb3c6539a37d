using Gateway.Host.Cli;

namespace Gateway.Tests.Host.Cli;

public sealed class CheckCommandTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-check-" + Guid.NewGuid().ToString("N")[..12]);

    public CheckCommandTests()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "plugins"));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task CheckAsync_ValidConfig_ExitsZeroWithSummary()
    {
        (int exit, string stdout, string stderr) = await CheckAsync("host:\n  plugins: [plugins]\n  admin: { listen: 127.0.0.1:9090 }\n");

        Assert.Equal(GatewayCommandLine.ExitOk, exit);
        Assert.StartsWith("config OK: ", stdout);
        Assert.Contains("admin 127.0.0.1:9090", stdout);
        Assert.Equal(string.Empty, stderr);
    }

    [Fact]
    public async Task CheckAsync_SectionForNoLoadedPlugin_ExitsZeroWithWarningListingKnownIds()
    {
        (int exit, string stdout, string stderr) = await CheckAsync("host:\n  plugins: [plugins]\ndns-dott:\n  listen: [127.0.0.1:53]\n");

        // A plugin and its section may be dropped in in either order: said, not refused (the same as at start and reload).
        Assert.Equal(GatewayCommandLine.ExitOk, exit);
        Assert.StartsWith("config OK: ", stdout);
        Assert.Contains("warning: ", stderr);
        Assert.Contains("gateway.yaml:3:1: dns-dott: no loaded plugin has the id 'dns-dott' (loaded: none); the section is ignored until", stderr);
    }

    [Fact]
    public async Task CheckAsync_InvalidHostKeyAndUnknownSection_ErrorRefusedSectionWarned()
    {
        (int exit, _, string stderr) = await CheckAsync("host:\n  plugins: [plugins]\n  admin: { listen: nonsense }\ndns-dott:\n  listen: [127.0.0.1:53]\n");

        Assert.Equal(2, exit);
        Assert.Contains("gateway.yaml:3:", stderr);
        Assert.Contains("host.admin.listen", stderr);
        Assert.Contains("warning: ", stderr);
        Assert.Contains("gateway.yaml:4:1: dns-dott: no loaded plugin has the id 'dns-dott'", stderr);
        Assert.Contains("1 error(s)", stderr);
    }

    [Fact]
    public async Task CheckAsync_PluginFolderWithSdkCopy_ExitsTwoNamingThePlugin()
    {
        string plugin = Path.Combine(_directory, "plugins", "x");
        Directory.CreateDirectory(plugin);
        await File.WriteAllTextAsync(Path.Combine(plugin, "Gateway.Sdk.dll"), "not really");

        (int exit, _, string stderr) = await CheckAsync("host:\n  plugins: [plugins]\n");

        Assert.Equal(GatewayCommandLine.ExitConfigError, exit);
        Assert.Contains("Gateway.Sdk.dll found in plugins/x — remove it", stderr);
    }

    [Fact]
    public async Task CheckAsync_MissingFile_ExitsTwo()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        int exit = await GatewayCommandLine.CheckAsync(Path.Combine(_directory, "absent.yaml"), null, stdout, stderr);

        Assert.Equal(GatewayCommandLine.ExitConfigError, exit);
        Assert.Contains("absent.yaml: config file not found", stderr.ToString());
    }

    private async Task<(int Exit, string StdOut, string StdErr)> CheckAsync(string yaml)
    {
        string path = Path.Combine(_directory, "gateway.yaml");
        await File.WriteAllTextAsync(path, yaml);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await GatewayCommandLine.CheckAsync(path, null, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
