using System.Diagnostics.Metrics;
using Gateway.Host.Dispatch;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Host.Tun;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Dispatch;

public sealed class DispatchDecisionTests
{
    [Theory]
    [InlineData("10.30.30.30", "Virtual", null)]
    [InlineData("fd30::30", "Virtual", null)]
    [InlineData("fd77::7", "Virtual", null)]
    [InlineData("10.99.0.7", "Route", "wg")]
    [InlineData("fd99::7", "Route", "wg")]
    [InlineData("10.30.30.31", "Drop", null)]
    [InlineData("10.99.1.7", "Drop", null)]
    [InlineData("fd30::31", "Drop", null)]
    [InlineData("fd99:0:0:1::7", "Drop", null)]
    [InlineData("192.0.2.1", "Drop", null)]
    [InlineData("2001:db8::1", "Drop", null)]
    public void Decide_Destination_VirtualRouteOrNoRoute(string destination, string expected, string? routeName)
    {
        NetAddress address = NetAddress.Parse(destination);
        byte[] packet = new byte[80];
        if (address.IsV4)
        {
            IPv4Header.Write(packet, NetAddress.Parse("10.30.30.1").V4Value, address.V4Value, IpProtocol.Udp, 40);
        }
        else
        {
            IPv6Header.Write(packet, NetAddress.Parse("fd30::1"), address, IpProtocol.Udp, 40);
        }

        DispatchResult decision = DispatchDecision.Decide(packet, Snapshot());

        Assert.Equal(expected, decision.Action.ToString());
        Assert.Equal(routeName, decision.Route?.Route.Name);
        if (decision.Action == DispatchAction.Drop)
        {
            Assert.Equal(DropReason.NoRoute, decision.Reason);
        }
        else
        {
            Assert.False(Snapshot().MissFilter.IsMiss(packet));
        }
    }

    [Theory]
    [InlineData("", "Truncated")]
    [InlineData("45000014", "Truncated")]
    [InlineData("6000000000001140fd300000000000000000000000000001", "Truncated")]
    [InlineData("5000000000000000000000000000000000000000", "BadVersion")]
    [InlineData("00", "BadVersion")]
    public void Decide_MalformedHeader_DroppedWithReason(string hex, string expected)
    {
        DispatchResult decision = DispatchDecision.Decide(Convert.FromHexString(hex), Snapshot());
        Assert.False(Snapshot().MissFilter.IsMiss(Convert.FromHexString(hex)));
        Assert.Equal(DispatchAction.Drop, decision.Action);
        Assert.Equal(expected, decision.Reason.ToString());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Decide_RandomTablesAndDestinations_SameAsNaiveLookup(int seed)
    {
        // The filter indexes destinations by their first and last two bytes: destinations that share either with a
        // virtual IP or a route (the filter's false positives) must still get the exact answer.
        var random = new Random(seed);
        using var meter = new Meter("Gateway.Host.Tests.Decision.Random");
        var guard = new PluginHandlerGuard("t", NullLogger.Instance, meter);
        var table = new RoutingTable();
        var virtuals = new List<NetAddress>();
        var prefixes = new List<(IpPrefix Prefix, PrefixRoute Route)>();
        for (int i = 0; i < 20; i++)
        {
            NetAddress address = RandomAddress(random, v4: i % 2 == 0);
            virtuals.Add(address);
            table.Add(new DatagramBinding(new NetEndpoint(address, 53), new NullHandler(), guard));
        }

        for (int i = 0; i < 20; i++)
        {
            bool v4 = i % 2 == 0;
            int length = random.Next(v4 ? 33 : 129);
            var prefix = new IpPrefix(RandomAddress(random, v4), length);
            if (prefixes.Exists(p => p.Prefix.Equals(prefix)))
            {
                continue;
            }

            var route = new PrefixRoute(prefix, new NullHandler(), guard);
            prefixes.Add((prefix, route));
            table.Add(route);
        }

        RoutingSnapshot snapshot = table.Current;
        byte[] packet = new byte[80];
        int misses = 0;
        for (int i = 0; i < 20_000; i++)
        {
            NetAddress destination = Near(random, random.Next(2) == 0 ? virtuals[random.Next(virtuals.Count)] : prefixes[random.Next(prefixes.Count)].Prefix.Network);
            if (destination.IsV4)
            {
                IPv4Header.Write(packet, 0x0A1E1E01, destination.V4Value, IpProtocol.Udp, 40);
            }
            else
            {
                IPv6Header.Write(packet, NetAddress.Parse("fd30::1"), destination, IpProtocol.Udp, 40);
            }

            PrefixRoute? expectedRoute = null;
            int longest = -1;
            foreach ((IpPrefix prefix, PrefixRoute route) in prefixes)
            {
                if (prefix.Contains(destination) && prefix.Length > longest)
                {
                    (expectedRoute, longest) = (route, prefix.Length);
                }
            }

            DispatchAction expected = virtuals.Contains(destination) ? DispatchAction.Virtual
                : expectedRoute is not null ? DispatchAction.Route : DispatchAction.Drop;

            DispatchResult decision = DispatchDecision.Decide(packet, snapshot);
            (DispatchAction action, PrefixRoute? actualRoute) = (decision.Action, decision.Route);

            Assert.True(expected == action, $"{destination}: expected {expected}, got {action}");
            Assert.Same(expected == DispatchAction.Route ? expectedRoute : null, actualRoute);

            // The inlined miss test may only say "certainly no route" for what the exact decision drops.
            if (snapshot.MissFilter.IsMiss(packet))
            {
                misses++;
                Assert.True(expected == DispatchAction.Drop, $"{destination}: IsMiss rejected a packet that goes {expected}");
            }
        }

        Assert.True(misses > 1000, $"only {misses} of 20,000 destinations were rejected by the filter");
    }

    // `padded`: every packet at least a fixed IPv6 header long, so Candidates takes its loop without length checks;
    // otherwise short and truncated packets are mixed in and it takes the general loop.
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(5, false)]
    [InlineData(7, false)]
    [InlineData(128, false)]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(9, true)]
    [InlineData(256, true)]
    public void Candidates_MixedBatch_ExactlyThePacketsIsMissKeeps_InOrder(int size, bool padded)
    {
        RoutingSnapshot snapshot = Snapshot();
        string[] destinations = ["10.30.30.30", "10.99.0.7", "10.30.30.31", "192.0.2.1", "fd30::30", "fd99::7", "fd30::31", "2001:db8::1"];
        string[] malformed = ["", "45", "4500001400000000401100000a1e1e01", "6000000000001140fd30", "50000000000000000000000000000000000000000000", "ff"];
        var random = new Random(size);
        for (int round = 0; round < 50; round++)
        {
            var batch = new PacketBatch(size, size * 80);
            var expected = new List<int>();
            for (int i = 0; i < size; i++)
            {
                byte[] packet;
                if (random.Next(5) == 0)
                {
                    // Malformed: a truncated header, another version, random bytes (padded: only long ones, which
                    // still include other versions and IPv4 headers with nonsense fields).
                    packet = Convert.FromHexString(malformed[random.Next(malformed.Length)]);
                    if (padded)
                    {
                        byte[] noise = new byte[IPv6Header.Length + random.Next(20)];
                        random.NextBytes(noise);
                        packet.CopyTo(noise, 0);
                        packet = noise;
                    }
                }
                else
                {
                    NetAddress destination = NetAddress.Parse(destinations[random.Next(destinations.Length)]);
                    packet = new byte[destination.IsV4 ? (padded ? 48 : 28) : 48];
                    if (destination.IsV4)
                    {
                        IPv4Header.Write(packet, 0x0A1E1E01, destination.V4Value, IpProtocol.Udp, packet.Length - 20);
                    }
                    else
                    {
                        IPv6Header.Write(packet, NetAddress.Parse("fd30::1"), destination, IpProtocol.Udp, 8);
                    }

                    // The traffic class (IPv6) or DSCP (IPv4) must not matter.
                    packet[1] |= (byte)random.Next(256);
                    packet[0] |= (byte)(destination.IsV4 ? 0 : random.Next(16));
                }

                Assert.True(batch.TryAdd(packet));
                if (!snapshot.MissFilter.IsMiss(packet))
                {
                    expected.Add(i);
                }

                // A miss is always a drop for no route in the exact decision too.
                else
                {
                    DispatchResult decision = DispatchDecision.Decide(packet, snapshot);
                    Assert.Equal((DispatchAction.Drop, DropReason.NoRoute), (decision.Action, decision.Reason));
                }
            }

            int[] candidates = new int[size];
            int found = snapshot.MissFilter.Candidates(batch, candidates);
            Assert.Equal(expected, candidates[..found]);

            // The general loop agrees whatever the lengths.
            found = snapshot.MissFilter.CandidatesAnyLength(batch, candidates);
            Assert.Equal(expected, candidates[..found]);
        }
    }

    [Fact]
    public void Candidates_TooFewSlots_Throws()
    {
        var batch = new PacketBatch(4, 4096);
        batch.TryAdd(new byte[20]);
        batch.TryAdd(new byte[20]);

        Assert.Throws<ArgumentException>(() => Snapshot().MissFilter.Candidates(batch, new int[1]));
    }

    private static NetAddress RandomAddress(Random random, bool v4)
    {
        byte[] bytes = new byte[v4 ? 4 : 16];
        random.NextBytes(bytes);
        return NetAddress.FromIPAddress(new System.Net.IPAddress(bytes));
    }

    // An address sharing the first two bytes, the last two bytes, or everything but one byte with `near`.
    private static NetAddress Near(Random random, NetAddress near)
    {
        byte[] bytes = near.ToIPAddress().GetAddressBytes();
        byte[] other = new byte[bytes.Length];
        random.NextBytes(other);
        switch (random.Next(4))
        {
            case 0:
                other[0] = bytes[0];
                other[1] = bytes[1];
                break;
            case 1:
                other[^1] = bytes[^1];
                other[^2] = bytes[^2];
                break;
            case 2:
                other = (byte[])bytes.Clone();
                other[random.Next(other.Length)] ^= (byte)(1 << random.Next(8));
                break;
            default:
                other = bytes;
                break;
        }

        return NetAddress.FromIPAddress(new System.Net.IPAddress(other));
    }

    private static RoutingSnapshot Snapshot()
    {
        using var meter = new Meter("Gateway.Host.Tests.Decision");
        var guard = new PluginHandlerGuard("t", NullLogger.Instance, meter);
        var handler = new NullHandler();
        var table = new RoutingTable();
        foreach (string endpoint in new[] { "10.30.30.30:53", "[fd30::30]:53", "[fd77::7]:7" })
        {
            table.Add(new DatagramBinding(NetEndpoint.Parse(endpoint), handler, guard));
        }

        table.Add(new PrefixRoute(IpPrefix.Parse("10.99.0.0/24"), handler, guard));
        table.Add(new PrefixRoute(IpPrefix.Parse("fd99::/64"), handler, guard));
        return table.Current;
    }

    private sealed class NullHandler : IDatagramHandler, IPacketRoute
    {
        public string Name => "wg";

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
        }

        public void Send(ReadOnlySpan<byte> packet)
        {
        }

        public void Flush()
        {
        }
    }
}
