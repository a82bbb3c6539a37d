using Gateway.Plugins.WireGuard.Routing;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.WireGuard;

public sealed class AllowedIpsTests
{
    [Fact]
    public void Lookup_OverlappingPrefixes_LongestPrefixWins()
    {
        var table = new AllowedIps<string>();
        table.Insert(IpPrefix.Parse("10.0.0.0/8"), "wide");
        table.Insert(IpPrefix.Parse("10.99.0.0/24"), "narrow");
        table.Insert(IpPrefix.Parse("10.99.0.7/32"), "host");
        Assert.Equal("host", table.Lookup(NetAddress.Parse("10.99.0.7")));
        Assert.Equal("narrow", table.Lookup(NetAddress.Parse("10.99.0.8")));
        Assert.Equal("wide", table.Lookup(NetAddress.Parse("10.1.2.3")));
        Assert.Null(table.Lookup(NetAddress.Parse("11.0.0.1")));
    }

    [Fact]
    public void Lookup_V6AndDefaultRoute_FamiliesKeptApart()
    {
        var table = new AllowedIps<string>();
        table.Insert(IpPrefix.Parse("0.0.0.0/0"), "v4-default");
        table.Insert(IpPrefix.Parse("fd99::/64"), "v6");
        Assert.Equal("v6", table.Lookup(NetAddress.Parse("fd99::2")));
        Assert.Null(table.Lookup(NetAddress.Parse("fd98::2")));
        Assert.Equal("v4-default", table.Lookup(NetAddress.Parse("192.0.2.1")));
        byte[] bytes = NetAddress.Parse("fd99::1234").ToIPAddress().GetAddressBytes();
        Assert.Equal("v6", table.Lookup(bytes, v6: true));
    }

    [Fact]
    public void Insert_SamePrefixOtherPeer_MovesPrefix_RemoveByPeerClears()
    {
        var table = new AllowedIps<string>();
        table.Insert(IpPrefix.Parse("10.99.0.0/24"), "a");
        table.Insert(IpPrefix.Parse("10.99.0.0/24"), "b");
        table.Insert(IpPrefix.Parse("10.98.0.0/24"), "b");
        Assert.Equal("b", table.Lookup(NetAddress.Parse("10.99.0.1")));
        Assert.Empty(table.PrefixesOf("a"));
        Assert.Equal(2, table.PrefixesOf("b").Count);
        table.RemoveByPeer("b");
        Assert.Null(table.Lookup(NetAddress.Parse("10.99.0.1")));
        Assert.Empty(table.AllPrefixes());
    }

    [Fact]
    public void Lookup_SameAddressAgainAfterAChange_SeesTheChange()
    {
        var table = new AllowedIps<string>();
        var other = new AllowedIps<string>();
        table.Insert(IpPrefix.Parse("10.99.0.0/24"), "net");
        other.Insert(IpPrefix.Parse("10.99.0.0/24"), "other table");
        NetAddress host = NetAddress.Parse("10.99.0.2");
        Assert.Equal("net", table.Lookup(host));
        Assert.Equal("net", table.Lookup(host));
        Assert.Equal("other table", other.Lookup(host));

        table.Insert(IpPrefix.Parse("10.99.0.2/32"), "host");
        Assert.Equal("host", table.Lookup(host));
        table.RemoveByPeer("host");
        Assert.Equal("net", table.Lookup(host));
        table.RemoveByPeer("net");
        Assert.Null(table.Lookup(host));
        Assert.Null(table.Lookup(NetAddress.Parse("::ffff:10.99.0.2")));
    }
}
