using System.Diagnostics.Metrics;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Filtering;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot.Filtering;

/// <summary>A resolver with filtering built from options and list files in a temporary folder (no upstreams: forwarded queries stop at <see cref="ResolveStep.Upstream"/>).</summary>
internal sealed class FilteringHarness : IDisposable
{
    private readonly Meter _meter = new("filtering-test");

    private FilteringHarness(string directory)
    {
        Directory = directory;
        Pause = new BlockingPause(NullLogger.Instance, () => Now);
    }

    /// <summary>The pause's clock: real time unless a test moves it.</summary>
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

    public string Directory { get; }

    public DnsResolver Resolver { get; private set; } = null!;

    public ListManager Lists { get; private set; } = null!;

    public BlockingPause Pause { get; }

    public UpstreamGroup Filtered { get; } = new("filtered", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());

    /// <summary>Writes <paramref name="files"/> (name → content), builds the resolver for <paramref name="options"/>, waits for the lists.</summary>
    public static async Task<FilteringHarness> CreateAsync(DnsDotOptions options, IReadOnlyDictionary<string, string>? files = null)
    {
        string directory = Path.Combine(Path.GetTempPath(), "dns-filter-test-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        foreach ((string name, string content) in files ?? new Dictionary<string, string>())
        {
            await File.WriteAllTextAsync(Path.Combine(directory, name), content);
        }

        var harness = new FilteringHarness(directory);
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var groups = new Dictionary<string, UpstreamGroup> { ["filtered"] = harness.Filtered };
        options.Groups["filtered"] = new UpstreamGroupOptions();
        var resolver = new DnsResolver(options, group, groups, null, new DnsDotMetrics(harness._meter), NullLogger.Instance);
        harness.Lists = new ListManager(_ => { }, harness._meter, NullLogger.Instance);
        IReadOnlyList<SubscribedList> lists = harness.Lists.Apply(options.Lists, directory, Path.Combine(directory, "state"));
        foreach (SubscribedList list in lists)
        {
            await list.FirstLoad.WaitAsync(TimeSpan.FromSeconds(30));
        }

        resolver.Swap(resolver.Snapshot.WithFilter(FilterSnapshot.Build(options, groups, lists, harness.Pause, harness.Lists)), replaceRules: false);
        harness.Resolver = resolver;
        return harness;
    }

    public (ResolveStep Step, byte[] Answer, PendingQuery Pending) Run(byte[] query, string client = "192.0.2.7")
    {
        byte[] answer = new byte[DnsResolver.MaxMessageSize];
        ResolveStep step = Resolver.Begin(query, NetAddress.Parse(client), DnsTransport.Udp, 1232, answer, out int length, out PendingQuery pending);
        return (step, answer[..length], pending);
    }

    public void Dispose()
    {
        Lists.Dispose();
        _meter.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
