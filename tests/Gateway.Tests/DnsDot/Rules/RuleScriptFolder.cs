using System.Diagnostics.Metrics;
using System.Net;
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Tests.DnsDot.Rules;

/// <summary>A temporary config folder with rule scripts, and helpers to start an engine on it.</summary>
internal sealed class RuleScriptFolder : IDisposable
{
    public RuleScriptFolder()
    {
        Directory = Path.Combine(Path.GetTempPath(), "gateway-rules-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "rules"));
    }

    public string Directory { get; }

    public CapturingLoggerFactory Logs { get; } = new();

    public Meter Meter { get; } = new("Gateway.Tests.Rules." + Guid.NewGuid().ToString("N"));

    /// <summary>Writes rules/<paramref name="name"/> and returns its full path.</summary>
    public string Write(string name, string content)
    {
        string path = Path.Combine(Directory, "rules", name);
        File.WriteAllText(path, content);
        return path;
    }

    public RuleEngine Start(params string[] globs) =>
        RuleEngine.Start(globs.Length == 0 ? ["rules/*.csx"] : globs, Directory, Logs, Meter);

    /// <summary>An engine on rules/*.csx with compiled scripts kept in <paramref name="cache"/>, the compiler taken from <paramref name="pluginDirectory"/>.</summary>
    public RuleEngine StartCached(ScriptCache cache, string? pluginDirectory = null) =>
        RuleEngine.Start(["rules/*.csx"], Directory, Logs, Meter, pluginDirectory, lists: null, cache);

    public static DnsQuery Query(string name, DnsType type = DnsType.A, string client = "192.0.2.10") =>
        new(name, type, IPAddress.Parse(client));

    public void Dispose()
    {
        Meter.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A watcher may still hold the folder for a moment; the temp folder is cleaned by the OS.
        }
    }
}
