using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A private copy of the published http-proxy plugin for issue 14's plugin swap: a gateway started with
/// <see cref="HostSection"/> loads it from <see cref="PluginsDirectory"/>, and <see cref="Redeploy"/> copies the build
/// over it again as a deploy would (the host then loads a new version and drains the old one). Deleted when disposed.
/// </summary>
internal sealed class SwappableHttpProxy : IDisposable
{
    /// <summary>What the host logs once the old version's load context is collected.</summary>
    public const string Unloaded = "plugin http-proxy: unloaded (load context collected)";

    private readonly string _work;
    private readonly string _published;

    private SwappableHttpProxy(string work, string published)
    {
        _work = work;
        _published = published;
    }

    /// <summary>The plugins folder holding the copy.</summary>
    public string PluginsDirectory => Path.Combine(_work, "plugins");

    /// <summary>The gateway.yaml <c>host:</c> section that loads the copy and lets an old version drain for 120 s.</summary>
    public string HostSection => $"host:\n  plugins: [\"{PluginsDirectory}\"]\n  drainTimeoutSeconds: 120\n";

    public static async Task<SwappableHttpProxy> CreateAsync(string name)
    {
        string published = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "plugins", "http-proxy");
        var copy = new SwappableHttpProxy(Path.Combine(Path.GetTempPath(), "gateway-e2e", name + "-" + Guid.NewGuid().ToString("N")[..12]), published);
        Host.EchoClient.CopyFolder(published, Path.Combine(copy.PluginsDirectory, "http-proxy"));
        return copy;
    }

    /// <summary>Copies the build over the running one with new modification times.</summary>
    public void Redeploy() => Host.EchoClient.RedeployFolder(_published, Path.Combine(PluginsDirectory, "http-proxy"));

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
