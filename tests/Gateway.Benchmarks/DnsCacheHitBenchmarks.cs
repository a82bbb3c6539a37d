using System.Diagnostics;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Statistics;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// Issue 21 (cache hits within 1.1x of the zero-work floor): the user-space work of one UDP cache hit as the gateway
/// runs it by default, split where the profile splits it. <c>Handler</c> is the receive thread's share per datagram
/// (admission, parse, cache lookup, TTL aging, the answer, metrics, the statistics/query-log event), in batches of 16
/// as recvmmsg hands them over; <c>Sinks</c> is the query log thread's share per event (statistics and the in-memory
/// log, on for every gateway). dns-peers.sh's names: n1..n5000.bench.test, one A record each, so the statistics see
/// 5,000 distinct names. Timed by the thread's CPU time (<see cref="CpuTimeConfig"/>).
/// Run: dotnet run -c Release --project tests/Gateway.Benchmarks -- --filter '*DnsCacheHitBenchmarks*'.
/// </summary>
[Config(typeof(CpuTimeConfig))]
[MemoryDiagnoser]
[MedianColumn]
public class DnsCacheHitBenchmarks
{
    private const int Names = 5000;
    private const int Batch = 16;

    private readonly NetAddress _client = NetAddress.Parse("127.0.0.1");
    private readonly byte[] _answer = new byte[DnsResolver.MaxMessageSize];
    private Meter _meter = null!;
    private DnsResolver _resolver = null!;
    private QueryEventQueue _queue = null!;
    private DnsDatagramHandler _handler = null!;
    private CountingResponder _responder = null!;
    private QueryStatistics _statistics = null!;
    private QueryRing _ring = null!;
    private byte[][] _queries = [];
    private QueryEvent[] _events = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _meter = new Meter("bench");
        // The defaults, as dns-peers.sh's gateway runs: the default ACL, no rate limit.
        var options = new DnsDotOptions();
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var cache = new DnsCache(options.Cache);
        var metrics = new DnsDotMetrics(_meter);
        _resolver = new DnsResolver(options, group, new Dictionary<string, UpstreamGroup>(), cache, metrics, NullLogger.Instance);

        // What FilteringRuntime attaches in every gateway: the event queue feeding statistics and the in-memory log.
        _statistics = new QueryStatistics();
        _ring = new QueryRing();
        _queue = new QueryEventQueue(NullLogger.Instance, _meter);
        _queue.SetSinks([_statistics, _ring], wantsUpstream: false);
        _resolver.Observer = _queue;

        var gate = new ClientGate(options, [], metrics.Serving, NullLogger.Instance);
        _handler = new DnsDatagramHandler(_resolver, metrics, gate);
        _responder = new CountingResponder();

        long now = Stopwatch.GetTimestamp();
        _queries = new byte[Names][];
        _events = new QueryEvent[Names];
        for (int i = 0; i < Names; i++)
        {
            byte[] query = FilteringBenchmarks.Query($"n{i + 1}.bench.test");
            byte[] body = Answer(query);
            DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
            ReadOnlySpan<byte> name = query.AsSpan(DnsConstants.HeaderSize, info.NameLength);
            cache.Store(DnsCache.Key(name, 1, 1, false), body, name, 1, 1, false, 0, now);
            _queries[i] = query;
            _events[i] = new QueryEvent
            {
                Record = new QueryRecord(_client, DnsTransport.Udp, "cache", false, true, null, null, now - (Stopwatch.Frequency / 100_000), now),
            };
            _events[i].SetMessages(query, body);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _resolver.Observer = null;
        _queue.Dispose();
        _meter.Dispose();
    }

    /// <summary>The resolver's part of a hit with nothing observing (the floor of the dns-dot code itself).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ResolverOnly()
    {
        _resolver.Observer = null;
        int total = 0;
        for (int i = 0; i < Batch; i++)
        {
            _resolver.Begin(NextQuery(), _client, DnsTransport.Udp, 65507, _answer, out int length, out _);
            total += length;
        }

        _resolver.Observer = _queue;
        return total;
    }

    /// <summary>The receive thread's work per datagram: the handler in a batch, as the host's recvmmsg loop calls it.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int Handler()
    {
        using (DatagramBatch.Open())
        {
            for (int i = 0; i < Batch; i++)
            {
                var request = new DatagramRequest(_responder, new NetEndpoint(_client, 40000), new NetEndpoint(_client, 5301), PacketOrigin.HostSocket, 65507);
                _handler.OnDatagram(request, NextQuery());
            }
        }

        return _responder.Replies;
    }

    /// <summary>The query log thread's work per event: statistics and the in-memory log (every gateway runs both).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void Sinks()
    {
        for (int i = 0; i < Batch; i++)
        {
            QueryEvent queryEvent = _events[_next];
            _next = _next + 1 == Names ? 0 : _next + 1;

            // As the query path leaves a slot: messages copied in, nothing derived from them yet.
            queryEvent.SetMessages(queryEvent.Query, queryEvent.Answer);
            _statistics.OnEvent(queryEvent);
            _ring.OnEvent(queryEvent);
        }
    }

    private byte[] NextQuery()
    {
        byte[] query = _queries[_next];
        _next = _next + 1 == Names ? 0 : _next + 1;
        return query;
    }

    // The upstream's answer as the cache stores it: the question, one A record (198.18.0.1, TTL 3600), no OPT.
    private static byte[] Answer(byte[] query)
    {
        var bytes = new List<byte>(query);
        bytes[2] = 0x81;
        bytes[3] = 0x80;
        bytes[7] = 1;
        bytes.AddRange([0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 198, 18, 0, 1]);
        return [.. bytes];
    }

    // Takes the replies (the host's UdpReplyBatch would queue them for sendmmsg): the kernel's part is not measured here.
    private sealed class CountingResponder : IDatagramResponder
    {
        public int Replies;

        public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            Replies++;
            return true;
        }
    }
}
