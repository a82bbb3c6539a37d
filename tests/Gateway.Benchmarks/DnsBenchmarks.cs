using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>The dns-dot query path without network: parsing a query, and a full cache hit (parse → lookup → answer).</summary>
[MemoryDiagnoser]
public class DnsBenchmarks
{
    private readonly byte[] _query = BuildQuery("www.example.test", 1);
    private readonly byte[] _answer = new byte[DnsResolver.MaxMessageSize];
    private readonly NetAddress _client = NetAddress.Parse("192.0.2.1");
    private readonly NetAddress _limitedClient = NetAddress.Parse("192.0.2.77");
    private Meter _meter = null!;
    private DnsResolver _resolver = null!;
    private ClientGate _gate = null!;
    private ClientRateLimiter _limiter = null!;
    private long _now;

    [GlobalSetup]
    public void Setup()
    {
        _meter = new Meter("bench");
        var options = new DnsDotOptions();
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var cache = new DnsCache(options.Cache);
        _resolver = new DnsResolver(options, group, new Dictionary<string, UpstreamGroup>(), cache, new DnsDotMetrics(_meter), NullLogger.Instance);

        // Seed the cache with an upstream-shaped answer (A record, OPT removed).
        byte[] response = (byte[])_query.Clone();
        DnsMessageReader.TryParseQuery(_query, out DnsRequestInfo info);
        byte[] body = new byte[info.QuestionEnd + 16];
        _query.AsSpan(0, info.QuestionEnd).CopyTo(body);
        body[2] = 0x81;
        body[3] = 0x80;
        body[7] = 1;
        body[11] = 0;
        byte[] record = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 10, 0, 0, 1];
        record.CopyTo(body, info.QuestionEnd);
        ReadOnlySpan<byte> name = _query.AsSpan(12, info.NameLength);
        cache.Store(DnsCache.Key(name, 1, 1, false), body, name, 1, 1, false, 0, Stopwatch.GetTimestamp());

        // Admission as configured for an exposed resolver: the default ACL and a rate limit every query passes.
        var serving = new DnsDotOptions { RateLimit = new RateLimitOptions { Qps = 1_000_000_000, Burst = 1_000_000_000 } };
        _gate = new ClientGate(serving, [], new DnsDotMetrics(_meter).Serving, NullLogger.Instance);
        _limiter = new ClientRateLimiter(new RateLimitOptions { Qps = 1, Burst = 1, MaxClients = 65536 });
        _now = Stopwatch.GetTimestamp();
    }

    [GlobalCleanup]
    public void Cleanup() => _meter.Dispose();

    [Benchmark]
    public int ParseQuery()
    {
        DnsMessageReader.TryParseQuery(_query, out DnsRequestInfo info);
        return info.QuestionEnd;
    }

    [Benchmark]
    public int CacheHit()
    {
        _resolver.Begin(_query, _client, DnsTransport.Udp, 1232, _answer, out int length, out _);
        return length;
    }

    /// <summary>The ACL and a rate-limit token for an allowed client, as every UDP/TCP/DoT/DoH query pays first.</summary>
    [Benchmark]
    public int AdmitAllowedClient() => (int)_gate.Admit(_client, DnsTransport.Udp);

    /// <summary>A client over its limit (the flood case): its bucket found, empty, the slip counter advanced.</summary>
    [Benchmark]
    public int RateLimitOverLimit() => (int)_limiter.Take(_limitedClient, datagram: true, _now);

    /// <summary>A cache hit behind the admission check (the exposed resolver's cheapest full path).</summary>
    [Benchmark]
    public int CacheHitAdmitted()
    {
        _gate.Admit(_client, DnsTransport.Udp);
        _resolver.Begin(_query, _client, DnsTransport.Udp, 1232, _answer, out int length, out _);
        return length;
    }

    private static byte[] BuildQuery(string name, ushort type)
    {
        var m = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1 };
        foreach (string label in name.Split('.'))
        {
            m.Add((byte)label.Length);
            m.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        m.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        m.AddRange([0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
        return m.ToArray();
    }
}
