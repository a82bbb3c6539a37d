using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.HttpProxy;

public sealed class AccessControlTests
{
    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.30.30.1", true)]
    [InlineData("192.168.1.9", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("203.0.113.7", false)]
    [InlineData("2001:db8::1", false)]
    public void IsClientAllowed_Defaults_LoopbackAndPrivateOnly(string client, bool allowed)
    {
        var access = new AccessControl(new HttpProxyOptions());

        Assert.Equal(allowed, access.IsClientAllowed(NetAddress.Parse(client)));
    }

    [Fact]
    public void IsClientAllowed_DenyInsideAllow_DenyWins()
    {
        var access = new AccessControl(new HttpProxyOptions
        {
            AllowClients = [IpPrefix.Parse("10.0.0.0/8")],
            DenyClients = [IpPrefix.Parse("10.1.0.0/16")],
        });

        Assert.True(access.IsClientAllowed(NetAddress.Parse("10.2.0.1")));
        Assert.False(access.IsClientAllowed(NetAddress.Parse("10.1.2.3")));
    }

    [Fact]
    public void Ports_Defaults_AnyHttpPortAndConnectOnly443()
    {
        var access = new AccessControl(new HttpProxyOptions());

        Assert.True(access.IsPortAllowed(8000));
        Assert.True(access.IsConnectPortAllowed(443, localClient: false));
        Assert.False(access.IsConnectPortAllowed(22, localClient: false));
    }

    [Fact]
    public void IsConnectPortAllowed_LocalClient_AnyPort()
    {
        var access = new AccessControl(new HttpProxyOptions());

        Assert.True(access.IsConnectPortAllowed(22, localClient: true));
        Assert.True(access.IsConnectPortAllowed(8000, localClient: true));
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("10.30.30.1", true)]
    [InlineData("::ffff:10.30.30.1", true)]
    [InlineData("192.168.1.9", false)]
    [InlineData("10.99.0.2", false)]
    [InlineData("::2", false)]
    public void IsLocalClient_SourceIsOneOfThisHostsAddresses_Local(string client, bool local)
    {
        // This host: loopback plus a TUN address 10.30.30.1. Whether the connection came through the TUN does not
        // matter (issue #13): a forwarded packet from 10.99.0.2 arrives there too and is remote.
        using HostAddresses host = HostAddresses.Fixed(NetAddress.Parse("10.30.30.1"));

        Assert.Equal(local, AccessControl.IsLocalClient(NetAddress.Parse(client), host));
    }

    [Fact]
    public void IsPortAllowed_List_OnlyListedPorts()
    {
        var access = new AccessControl(new HttpProxyOptions { AllowedPorts = [80, 8080] });

        Assert.True(access.IsPortAllowed(8080));
        Assert.False(access.IsPortAllowed(25));
    }
}
