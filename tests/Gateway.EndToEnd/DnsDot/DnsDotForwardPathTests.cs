using System.Diagnostics;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The UDP forwarding path under load against a real unbound over DoT, driven in-process (no client sockets,
/// so what is measured is the plugin): every query is answered, and the path allocates (almost) nothing
/// per query. CPU per query is printed for information (speed belongs in benchmarks, not assertions).
/// </summary>
public sealed class DnsDotForwardPathTests : IClassFixture<UnboundDotFixture>
{
    private const int Window = 200;
    private readonly UnboundDot _unbound;
    private readonly ITestOutputHelper _output;

    public DnsDotForwardPathTests(UnboundDotFixture fixture, ITestOutputHelper output)
    {
        _unbound = fixture.Unbound;
        _output = output;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OnDatagram_ManyQueries_AllAnsweredWithoutPerQueryAllocation(bool cache)
    {
        await using DnsDotUnboundTests.RunningPlugin gw = await DnsDotUnboundTests.StartPluginAsync(new Dictionary<string, string?>
        {
            ["upstreams:0:address"] = _unbound.Address,
            ["upstreams:0:tlsName"] = UnboundDot.TlsName,
            ["upstreams:0:caFile"] = _unbound.CaFile,
            ["cache:enabled"] = cache ? "true" : "false",
        });
        var handler = new DnsDatagramHandler(gw.Plugin.Resolver!);
        var responder = new CountingResponder();
        byte[][] queries = new byte[5000][];
        for (int i = 0; i < queries.Length; i++)
        {
            queries[i] = DnsDotClient.Query($"n{i + 1}.test", 1, (ushort)i);
        }

        // Warm-up: connections, JIT, pools, (cache: every name stored).
        Run(handler, responder, queries, 10000);
        // DNS_FORWARD_QUERIES lengthens the measured run (for profiling with perf); the default keeps the test short.
        int count = int.TryParse(Environment.GetEnvironmentVariable("DNS_FORWARD_QUERIES"), out int configured) ? configured : cache ? 200000 : 40000;
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        int answered = Run(handler, responder, queries, count);
        wall.Stop();
        double cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / count;
        double bytesPerQuery = (double)(GC.GetTotalAllocatedBytes(precise: true) - allocated) / count;
        _output.WriteLine($"cache={cache}: {count} queries in {wall.Elapsed.TotalMilliseconds:0} ms, {count / wall.Elapsed.TotalSeconds:0} qps, {cpuUs:0.00} µs CPU/query (process, incl. xunit), {bytesPerQuery:0.0} B allocated/query, SERVFAIL {responder.ServFail}");
        Assert.Equal(count, answered);
        Assert.Equal(0, responder.ServFail);
        Assert.True(bytesPerQuery < 64, $"{bytesPerQuery:0.0} bytes allocated per query");
    }

    private static int Run(DnsDatagramHandler handler, CountingResponder responder, byte[][] queries, int count)
    {
        responder.Reset();
        var client = new NetEndpoint(NetAddress.Parse("127.0.0.1"), 40000);
        var request = new DatagramRequest(responder, client, client, PacketOrigin.HostSocket, 65507);
        var deadline = Stopwatch.StartNew();
        for (int sent = 0; sent < count; sent++)
        {
            // Refill in bursts (down to half the window first) so the driver wakes rarely.
            while (sent - responder.Answered >= Window)
            {
                responder.WakeBelow = sent - (Window / 2);
                responder.Signal.Wait(TimeSpan.FromSeconds(1));
                responder.Signal.Reset();
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), $"stalled at {responder.Answered} of {count}");
            }

            handler.OnDatagram(request, queries[sent % queries.Length]);
        }

        responder.WakeBelow = count;
        while (responder.Answered < count && deadline.Elapsed < TimeSpan.FromMinutes(2))
        {
            responder.Signal.Wait(TimeSpan.FromMilliseconds(100));
            responder.Signal.Reset();
        }

        return responder.Answered;
    }

    private sealed class CountingResponder : IDatagramResponder
    {
        private int _answered;
        private int _servFail;

        public int WakeBelow;

        public ManualResetEventSlim Signal { get; } = new();

        public int Answered => Volatile.Read(ref _answered);

        public int ServFail => Volatile.Read(ref _servFail);

        public void Reset()
        {
            WakeBelow = 0;
            _answered = 0;
            _servFail = 0;
        }

        public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            if (DnsDotClient.Rcode(payload) == 2)
            {
                Interlocked.Increment(ref _servFail);
            }

            if (Interlocked.Increment(ref _answered) >= Volatile.Read(ref WakeBelow))
            {
                Signal.Set();
            }

            return true;
        }
    }
}
