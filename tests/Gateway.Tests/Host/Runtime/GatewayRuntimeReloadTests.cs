using Gateway.Host.Configuration;
using Gateway.Host.Runtime;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Runtime;

public sealed class GatewayRuntimeReloadTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-reload-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly string _path;

    public GatewayRuntimeReloadTests()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "plugins"));
        _path = Path.Combine(_directory, "gateway.yaml");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task ReloadAsync_BadFile_KeepsRunningConfig()
    {
        await using GatewayRuntime runtime = await PrepareAsync("host:\n  plugins: [plugins]\n  admin: { listen: 127.0.0.1:9090 }\n");

        await File.WriteAllTextAsync(_path, "host:\n  plugins: [plugins]\n  admin: { listen: 127.0.0.1:nope }\n");
        bool accepted = await runtime.ReloadAsync();

        Assert.False(accepted);
        Assert.Equal(NetEndpoint.Parse("127.0.0.1:9090"), runtime.Config.Host.Admin.Listen);
    }

    [Fact]
    public async Task ReloadAsync_EmptyFile_IsRejected()
    {
        await using GatewayRuntime runtime = await PrepareAsync("host:\n  plugins: [plugins]\necho:\n  greeting: hi\n");

        await File.WriteAllTextAsync(_path, string.Empty);

        Assert.False(await runtime.ReloadAsync());
        Assert.True(runtime.Config.Sections.ContainsKey("echo"));
    }

    [Fact]
    public async Task ReloadAsync_GoodFile_IsApplied()
    {
        await using GatewayRuntime runtime = await PrepareAsync("host:\n  plugins: [plugins]\n");

        await File.WriteAllTextAsync(_path, "host:\n  plugins: [plugins]\necho:\n  listen: [127.0.0.1:7007]\n");

        Assert.True(await runtime.ReloadAsync());
        Assert.Equal(NetEndpoint.Parse("127.0.0.1:7007"), Assert.Single(runtime.Config.SectionFor("echo").Endpoints).Endpoint);
    }

    [Fact]
    public async Task Prepare_SectionForNoPluginAtRun_IsOnlyAWarning()
    {
        await using GatewayRuntime runtime = await PrepareAsync("host:\n  plugins: [plugins]\nnot-dropped-in-yet: {}\n");

        Assert.True(runtime.Config.Sections.ContainsKey("not-dropped-in-yet"));
    }

    private async Task<GatewayRuntime> PrepareAsync(string yaml)
    {
        await File.WriteAllTextAsync(_path, yaml);
        var runtime = new GatewayRuntime(_path, _directory, NullLoggerFactory.Instance, environment: null, TextWriter.Null);
        runtime.Prepare();
        return runtime;
    }
}
