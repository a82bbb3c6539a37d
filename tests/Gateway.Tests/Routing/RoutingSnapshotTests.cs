using System.Diagnostics.Metrics;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Routing;

public sealed class RoutingSnapshotTests
{
    [Theory]
    [InlineData("10.31.255.255", "wide12")]
    [InlineData("10.16.0.0", "wide12")]
    [InlineData("10.32.0.0", "default4")]
    [InlineData("10.20.30.40", "narrow")]
    [InlineData("192.0.2.1", "default4")]
    [InlineData("fd00::1", "ula8")]
    [InlineData("fe80::1", "default6")]
    [InlineData("fd99::5", "ula64")]
    public void FindRoute_ShortAndLongPrefixes_LongestMatchWins(string destination, string expected)
    {
        RoutingSnapshot snapshot = Snapshot(("0.0.0.0/0", "default4"), ("10.16.0.0/12", "wide12"), ("10.20.30.0/24", "narrow"),
            ("::/0", "default6"), ("fd00::/8", "ula8"), ("fd99::/64", "ula64"));
        NetAddress address = NetAddress.Parse(destination);
        PrefixRoute? route = address.IsV4 ? snapshot.FindRouteV4(address.V4Value) : snapshot.FindRouteV6(address.Value);
        Assert.Equal(expected, route?.Route.Name);
    }

    [Fact]
    public void FindRoute_OutsideEveryPrefix_Null()
    {
        RoutingSnapshot snapshot = Snapshot(("10.16.0.0/12", "wide12"), ("fd00::/8", "ula8"));
        Assert.Null(snapshot.FindRouteV4(NetAddress.Parse("10.32.0.1").V4Value));
        Assert.Null(snapshot.FindRouteV6(NetAddress.Parse("fe00::1").Value));
    }

    private static RoutingSnapshot Snapshot(params (string Prefix, string Name)[] routes)
    {
        using var meter = new Meter("Gateway.Host.Tests.Snapshot");
        var guard = new PluginHandlerGuard("t", NullLogger.Instance, meter);
        var table = new RoutingTable();
        foreach ((string prefix, string name) in routes)
        {
            table.Add(new PrefixRoute(IpPrefix.Parse(prefix), new NamedRoute(name), guard));
        }

        return table.Current;
    }

    private sealed class NamedRoute(string name) : IPacketRoute
    {
        public string Name { get; } = name;

        public void Send(ReadOnlySpan<byte> packet)
        {
        }

        public void Flush()
        {
        }
    }
}
