using System.Diagnostics.Metrics;
using System.Net;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.DnsDot.Rules;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// Rule evaluation per query (issue 5): a miss through a 100,000-name block list and 5 lambda rules.
/// Target ≤ 200 ns and 0 B per query. Run: dotnet run -c Release --project tests/Gateway.Benchmarks -- --filter '*RuleBenchmarks*'.
/// </summary>
[MemoryDiagnoser]
public class RuleBenchmarks
{
    private const string Script = """
        BlockList("blocklist.txt");
        var lan = ClientIn("10.0.0.0/8", "fd00::/8");
        var kids = Names("games.test", "videos.test");
        Rule("no-any", q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);
        Rule("lan-txt", q => q.Type == DnsType.TXT && lan.Contains(q) ? Verdict.Refused : Verdict.Continue);
        Rule("kids", q => kids.Contains(q) ? Verdict.NxDomain : Verdict.Continue);
        Rule("no-axfr", q => q.Transport == DnsTransport.Tcp && q.Type == DnsType.AXFR ? Verdict.Refused : Verdict.Continue);
        Rule("local", q => q.NameEndsWith(".local") ? Verdict.NxDomain : Verdict.Continue);
        """;

    private string _directory = "";
    private Meter _meter = null!;
    private RuleEngine _engine = null!;
    private DnsQuery _miss = null!;
    private DnsQuery _hit = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "gateway-rule-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(_directory);
        using (var writer = new StreamWriter(Path.Combine(_directory, "blocklist.txt")))
        {
            for (int i = 0; i < 100_000; i++)
            {
                writer.WriteLine($"0.0.0.0 host{i}.blocked{i % 97}.test");
            }
        }

        File.WriteAllText(Path.Combine(_directory, "rules.csx"), Script);
        _meter = new Meter("Gateway.Benchmarks.Rules");
        _engine = RuleEngine.Start(["rules.csx"], _directory, NullLoggerFactory.Instance, _meter);
        if (_engine.Current.NameCount != 100_000)
        {
            throw new InvalidOperationException("the benchmark script did not load");
        }

        _miss = new DnsQuery("www.example.com", DnsType.A, IPAddress.Parse("192.0.2.10"));
        _hit = new DnsQuery("www.host4242.blocked71.test", DnsType.A, IPAddress.Parse("192.0.2.10"));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.Dispose();
        _meter.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The common case: no rule decides; every matcher and lambda runs.</summary>
    [Benchmark(Baseline = true)]
    public VerdictKind Miss() => _engine.Evaluate(_miss).Kind;

    /// <summary>A subdomain of a block-list entry: decided by the first step.</summary>
    [Benchmark]
    public VerdictKind BlockListHit() => _engine.Evaluate(_hit).Kind;
}
