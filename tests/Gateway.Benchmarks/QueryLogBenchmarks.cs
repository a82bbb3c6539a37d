using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Statistics;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// Issue 16: forwarding qps with the query log on must stay ≥ 90 % of it off. These rows split what one forwarded
/// query costs the log: <c>Enqueue</c> is the query path's share (copy into a queue slot; must be 0 B), the others
/// the writer thread's per-event work for a forwarded A query answered with one A record (the dns-peers.sh shape):
/// the log file's line alone, and all sinks a gateway with <c>queryLog:</c> runs (statistics, in-memory ring, file).
/// Timed by the thread's CPU time (<see cref="CpuTimeConfig"/>): on the shared machine wall-clock rows moved 3x between
/// runs. Run: dotnet run -c Release --project tests/Gateway.Benchmarks -- --filter '*QueryLogBenchmarks*'.
/// </summary>
[Config(typeof(CpuTimeConfig))]
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class QueryLogBenchmarks
{
    private const int Events = 512;

    private string _directory = "";
    private QueryEventQueue _queue = null!;
    private QueryLogWriter _writer = null!;
    private QueryStatistics _statistics = null!;
    private QueryRing _ring = null!;
    private QueryEvent[] _events = [];
    private byte[] _query = [];
    private byte[] _answer = [];
    private QueryRecord _record;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "gateway-querylog-bench-" + Environment.ProcessId);
        Directory.CreateDirectory(_directory);
        _queue = new QueryEventQueue(NullLogger.Instance, meter: null);
        _writer = new QueryLogWriter(new QueryLogOptions { Path = "query.log", MaxSizeMB = 64, Keep = 1 }, _directory, NullLogger.Instance);
        _statistics = new QueryStatistics();
        _ring = new QueryRing();
        long now = Stopwatch.GetTimestamp();
        _events = new QueryEvent[Events];
        for (int i = 0; i < Events; i++)
        {
            // Distinct names, as dnsperf's query file sends them: the top-N counters see new keys, not one hot key.
            byte[] query = FilteringBenchmarks.Query($"n{i}.bench.test");
            byte[] answer = Answer(query, [198, 18, 0, 1]);
            _events[i] = new QueryEvent
            {
                Record = new QueryRecord(NetAddress.Parse("127.0.0.1"), DnsTransport.Udp, "upstream", false, false, null, "upstream-0", now - Stopwatch.Frequency / 2000, now),
            };
            _events[i].SetMessages(query, answer);
        }

        _query = FilteringBenchmarks.Query("n1.bench.test");
        _answer = Answer(_query, [198, 18, 0, 1]);
        _record = _events[1].Record;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _queue.Dispose();
        _writer.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The query path's part: the record and both messages copied into a preallocated slot under the lock.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void Enqueue()
    {
        for (int i = 0; i < Events; i++)
        {
            _queue.OnAnswered(_record, _query, _answer);
        }
    }

    /// <summary>One JSON line of the log file, appended to the file every 60 KiB as in the gateway.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void LogLine()
    {
        foreach (QueryEvent queryEvent in _events)
        {
            Refill(queryEvent);
            _writer.OnEvent(queryEvent);
        }

        _writer.OnBatchEnd();
    }

    /// <summary>Everything the writer thread does per forwarded query with <c>queryLog:</c> set: statistics, ring, file.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public void AllSinks()
    {
        foreach (QueryEvent queryEvent in _events)
        {
            Refill(queryEvent);
            _statistics.OnEvent(queryEvent);
            _ring.OnEvent(queryEvent);
            _writer.OnEvent(queryEvent);
        }

        _writer.OnBatchEnd();
    }

    // What the query path does to a slot (the messages copied in, in place here), so each row pays what the writer
    // thread pays per event (e.g. the question expanded once), not what a reused, already-read event would.
    private static void Refill(QueryEvent queryEvent) => queryEvent.SetMessages(queryEvent.Query, queryEvent.Answer);

    // The query with QR set, one answer: the question's name by pointer (0xC00C), A, IN, TTL 60.
    private static byte[] Answer(byte[] query, byte[] address)
    {
        var bytes = new List<byte>(query);
        bytes[2] = 0x81;
        bytes[3] = 0x80;
        bytes[7] = 1;
        bytes.AddRange([0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        bytes.AddRange(address);
        return [.. bytes];
    }
}
