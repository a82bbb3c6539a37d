using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Kit;

/// <summary>
/// Issue 20's "Done": the SDK and the template are packed into a folder feed, <c>dotnet new gateway-plugin -n Probe</c>
/// runs outside the repository, the new plugin builds, its own tests pass, and, published and dropped into a running
/// published gateway, it answers.
/// </summary>
public sealed class PluginTemplateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task DotnetNew_GatewayPlugin_BuildsOutsideTheRepoAndAnswersWhenDroppedIn()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string work = Path.Combine(Path.GetTempPath(), "gateway-e2e", "kit-" + Guid.NewGuid().ToString("N")[..12]);
        string feed = Path.Combine(work, "feed");
        Directory.CreateDirectory(feed);
        IDictionary<string, string> environment = KitEnvironment.ForOutsideBuilds(work);

        // The SDK as the solution build left it (no second compile), the template package from its content.
        await KitEnvironment.RunAsync($"dotnet pack sdk -c Release --no-build -o '{feed}' --nologo -v q", GatewayBuild.RepositoryRoot, environment);
        await KitEnvironment.RunAsync($"dotnet pack templates -c Release -o '{feed}' --nologo -v q", GatewayBuild.RepositoryRoot, environment);

        string hive = Path.Combine(work, "templates-hive");
        await KitEnvironment.RunAsync($"dotnet new install '{feed}/Gateway.Plugin.Templates.1.0.0.nupkg' --debug:custom-hive '{hive}'", work, environment);
        await KitEnvironment.RunAsync($"dotnet new gateway-plugin -n Probe --debug:custom-hive '{hive}'", work, environment);
        string probe = Path.Combine(work, "Probe");
        await File.WriteAllTextAsync(Path.Combine(probe, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <add key="gateway-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);

        // One build: the test run compiles both projects, publish only copies the plugin's output.
        string tests = await KitEnvironment.RunAsync("dotnet test test/Probe.Tests -c Release --nologo", probe, environment);
        Assert.Contains("Passed!", tests);
        await KitEnvironment.RunAsync("dotnet publish src/Probe -c Release --no-build -o out --nologo -v q", probe, environment);
        string[] published = Directory.GetFiles(Path.Combine(probe, "out")).Select(Path.GetFileName).ToArray()!;
        Assert.Contains("Probe.dll", published);
        Assert.DoesNotContain(published, f => f.StartsWith("Gateway.Sdk", StringComparison.Ordinal) || f.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) || f.StartsWith("System.", StringComparison.Ordinal));

        string extra = Path.Combine(work, "plugins");
        Directory.CreateDirectory(extra);
        int port = EchoClient.FreePort();
        await using GatewayProcess process = await GatewayProcess.StartAsync($"""
            host:
              plugins: ["{Path.Combine(gateway, "plugins")}", "{extra}"]
            probe:
              listen: [127.0.0.1:{port}]
              greeting: "probe says: "
              logLevel: debug
            """);
        EchoClient.CopyFolder(Path.Combine(probe, "out"), Path.Combine(extra, "probe"));

        try
        {
            Assert.Equal("probe says: ping", await EchoClient.UdpUntilAsync(port, "ping", "probe says: ", Patience));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\ngateway output:\n{process.Output}", ex);
        }

        Assert.Equal("probe says: over tcp", await EchoClient.TcpAsync(port, "over tcp", TimeSpan.FromSeconds(20)));
        // The logger's category is the plugin id, and the event id is the template's, not a hash.
        await process.WaitForOutputAsync("probe[100] serving on 1 endpoint(s)", Patience);
        Assert.Equal(0, await process.StopAsync());
    }
}
