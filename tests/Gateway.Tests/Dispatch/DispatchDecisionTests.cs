using System.Diagnostics.Metrics;
using Gateway.Host.Dispatch;
using Gateway.Host.Networking;
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

        DispatchAction action = DispatchDecision.Decide(packet, Snapshot(), out PrefixRoute? route, out DropReason reason);

        Assert.Equal(expected, action.ToString());
        Assert.Equal(routeName, route?.Route.Name);
        if (action == DispatchAction.Drop)
        {
            Assert.Equal(DropReason.NoRoute, reason);
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
        Assert.Equal(DispatchAction.Drop, DispatchDecision.Decide(Convert.FromHexString(hex), Snapshot(), out _, out DropReason reason));
        Assert.Equal(expected, reason.ToString());
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
