using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Gateway.Host.Dispatch;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Host.Tun;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// The dispatch decision per packet (issue 3): read the version and destination, then look the destination up
/// in the routing snapshot (virtual IP filter + set, then longest-prefix routes). A <see cref="PacketBatch"/> of
/// <see cref="BatchSize"/> packets per invocation, as the TUN read loop hands them over. Min is reported beside the
/// mean because a shared, oversubscribed CI box inflates means.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class DispatchBenchmarks
{
    private const int BatchSize = 256;

    private readonly PacketBatch _missV4 = new(BatchSize, BatchSize * 80);
    private readonly PacketBatch _missV6 = new(BatchSize, BatchSize * 80);
    private readonly PacketBatch _hitVirtualV4 = new(BatchSize, BatchSize * 80);
    private readonly PacketBatch _hitVirtualV6 = new(BatchSize, BatchSize * 80);
    private readonly PacketBatch _hitRouteV4 = new(BatchSize, BatchSize * 80);
    private readonly PacketBatch _hitRouteV6 = new(BatchSize, BatchSize * 80);
    private RoutingSnapshot _snapshot = RoutingSnapshot.Empty;

    [GlobalSetup]
    public void Setup()
    {
        using var meter = new Meter("bench");
        var guard = new PluginHandlerGuard("bench", NullLogger.Instance, meter);
        var handler = new NullHandler();
        var table = new RoutingTable();
        foreach (string endpoint in new[] { "10.30.30.30:53", "10.30.30.31:8080", "[fd30::30]:53", "[fd30::31]:8080" })
        {
            table.Add(new DatagramBinding(NetEndpoint.Parse(endpoint), handler, guard));
            table.Add(new StreamBinding(NetEndpoint.Parse(endpoint), handler, guard));
        }

        foreach (string prefix in new[] { "10.99.0.0/24", "10.98.0.0/16", "192.168.50.0/24", "fd99::/64", "fd98::/48" })
        {
            table.Add(new PrefixRoute(IpPrefix.Parse(prefix), handler, guard));
        }

        _snapshot = table.Current;
        var random = new Random(1);
        for (int i = 0; i < BatchSize; i++)
        {
            _missV4.TryAdd(V4($"10.30.30.{100 + (i % 100)}"));
            _missV6.TryAdd(V6($"fd30::{1000 + i:x}"));
            _hitVirtualV4.TryAdd(V4(i % 2 == 0 ? "10.30.30.30" : "10.30.30.31"));
            _hitVirtualV6.TryAdd(V6(i % 2 == 0 ? "fd30::30" : "fd30::31"));
            _hitRouteV4.TryAdd(V4($"10.99.0.{random.Next(1, 255)}"));
            _hitRouteV6.TryAdd(V6($"fd99::{random.Next(1, 65535):x}"));
        }
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int NonMatchingMissV4() => Decide(_missV4);

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int NonMatchingMissV6() => Decide(_missV6);

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int MatchVirtualIpV4() => Decide(_hitVirtualV4);

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int MatchVirtualIpV6() => Decide(_hitVirtualV6);

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int MatchPrefixRouteV4() => Decide(_hitRouteV4);

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int MatchPrefixRouteV6() => Decide(_hitRouteV6);

    /// <summary>
    /// The same decision <see cref="Dispatcher.OnPackets"/> makes for a batch read from the TUN, without acting on
    /// it: the miss filter over the whole batch, then the exact decision for each candidate.
    /// </summary>
    private int Decide(PacketBatch batch)
    {
        RoutingSnapshot snapshot = _snapshot;
        Span<int> candidates = stackalloc int[BatchSize];
        int found = snapshot.MissFilter.Candidates(batch, candidates);
        int decisions = found;
        for (int i = 0; i < found; i++)
        {
            decisions += (int)DispatchDecision.Decide(batch[candidates[i]], snapshot).Action;
        }

        return decisions;
    }

    private static byte[] V4(string destination)
    {
        byte[] packet = new byte[60];
        Gateway.Sdk.Packets.IPv4Header.Write(packet, 0x0A1E1E01, NetAddress.Parse(destination).V4Value, 17, 40);
        return packet;
    }

    private static byte[] V6(string destination)
    {
        byte[] packet = new byte[80];
        Gateway.Sdk.Packets.IPv6Header.Write(packet, NetAddress.Parse("fd30::1"), NetAddress.Parse(destination), 17, 40);
        return packet;
    }

    private sealed class NullHandler : IDatagramHandler, IStreamHandler, IPacketRoute
    {
        public string Name => "null";

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
        }

        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

        public void Send(ReadOnlySpan<byte> packet)
        {
        }

        public void Flush()
        {
        }
    }
}
