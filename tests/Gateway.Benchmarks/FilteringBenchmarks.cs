using System.Diagnostics.Metrics;
using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Clients;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Filtering;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// Issue 16: a query through 1,000,000 blocked names (adblock format) plus per-client policy (three client groups);
/// target ≤ 200 ns and 0 B for a miss. <c>FilterMiss</c> is the filtering decision alone (client group, allow and
/// block lists); <c>ResolverMiss</c> the whole synchronous query path (parse, policy, lists, cache lookup) up to
/// "send upstream". Run: dotnet run -c Release --project tests/Gateway.Benchmarks -- --filter '*FilteringBenchmarks*'.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class FilteringBenchmarks
{
    /// <summary>Entries of the block list.</summary>
    public const int Entries = 1_000_000;

    private string _directory = "";
    private Meter _meter = null!;
    private ListManager _lists = null!;
    private FilterSnapshot _filter = null!;
    private DnsResolver _resolver = null!;
    private byte[] _missName = [];
    private byte[] _hitName = [];
    private byte[] _missQuery = [];
    private byte[] _answer = [];
    private NetAddress _kid;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "gateway-filter-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(_directory);
        ListLoadBenchmarks.WriteAdblockList(Path.Combine(_directory, "ads.txt"), Entries);
        File.WriteAllText(Path.Combine(_directory, "mine.txt"), "ok.example.test\n");
        var options = new DnsDotOptions
        {
            Lists =
            [
                new ListOptions { Name = "ads", File = "ads.txt", Format = "adblock" },
                new ListOptions { Name = "mine", File = "mine.txt", Format = "domains", Kind = "allow" },
            ],
            Clients = new Dictionary<string, ClientGroupOptions>
            {
                ["kids"] = new() { Networks = ["192.168.1.64/27", "fd00:1::/64"] },
                ["lan"] = new() { Networks = ["192.168.1.0/24"], Lists = ["mine"] },
                ["guests"] = new() { Networks = ["10.20.0.0/16"], Blocking = false },
            },
        };
        _meter = new Meter("Gateway.Benchmarks.Filtering");
        _lists = new ListManager(_ => { }, _meter, NullLogger.Instance);
        IReadOnlyList<SubscribedList> lists = _lists.Apply(options.Lists, _directory, Path.Combine(_directory, "state"));
        foreach (SubscribedList list in lists)
        {
            list.FirstLoad.Wait();
        }

        if (lists[0].Entries != Entries)
        {
            throw new InvalidOperationException($"the list loaded {lists[0].Entries} entries");
        }

        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var groups = new Dictionary<string, UpstreamGroup>();
        _filter = FilterSnapshot.Build(options, groups, lists, new BlockingPause(NullLogger.Instance), _lists);
        _resolver = new DnsResolver(options, group, groups, null, new DnsDotMetrics(_meter), NullLogger.Instance);
        _resolver.Swap(_resolver.Snapshot.WithFilter(_filter), replaceRules: false);
        _missName = Encoding.ASCII.GetBytes("www.example.com");
        _hitName = Encoding.ASCII.GetBytes("cdn.host424242.blocked421.test");
        _missQuery = Query("www.example.com");
        _answer = new byte[DnsResolver.MaxMessageSize];
        _kid = NetAddress.Parse("192.168.1.70");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lists.Dispose();
        _meter.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The common case: the client's group is found, no list mentions the name.</summary>
    [Benchmark(Baseline = true)]
    public bool FilterMiss()
    {
        ClientPolicy policy = _filter.PolicyFor(_kid);
        return _filter.CheckLists(policy, _missName, out _) is null;
    }

    /// <summary>A subdomain of a block-list entry.</summary>
    [Benchmark]
    public bool FilterHit()
    {
        ClientPolicy policy = _filter.PolicyFor(_kid);
        return _filter.CheckLists(policy, _hitName, out bool blocked) is not null && blocked;
    }

    /// <summary>The whole synchronous query path for a miss: parse, client policy, lists, (no cache), to "send upstream".</summary>
    [Benchmark]
    public int ResolverMiss() => (int)_resolver.Begin(_missQuery, _kid, DnsTransport.Udp, 1232, _answer, out _, out _);

    /// <summary>A recursive A query for <paramref name="name"/> (id 0x1234, no EDNS).</summary>
    internal static byte[] Query(string name)
    {
        var bytes = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (string label in name.Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.AddRange([0, 0, 1, 0, 1]);
        return [.. bytes];
    }
}
