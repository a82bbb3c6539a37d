using Gateway.Plugins.DnsDot.Security;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.DnsDot.Security;

public sealed class ClientAclTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.31.255.1")]
    [InlineData("192.168.1.10")]
    [InlineData("100.64.0.1")]
    [InlineData("169.254.1.1")]
    [InlineData("::1")]
    [InlineData("fd00::5")]
    [InlineData("fe80::1")]
    public void IsAllowed_DefaultAclPrivateClient_Allowed(string client) =>
        Assert.True(ClientAcl.Create(null, [], []).IsAllowed(NetAddress.Parse(client)));

    [Theory]
    [InlineData("198.51.100.7")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2001:db8::1")]
    [InlineData("100.128.0.1")]
    public void IsAllowed_DefaultAclPublicClient_Refused(string client) =>
        Assert.False(ClientAcl.Create(null, [], []).IsAllowed(NetAddress.Parse(client)));

    [Fact]
    public void IsAllowed_DefaultAclWithTunNetwork_TunClientsAllowed()
    {
        ClientAcl acl = ClientAcl.Create(null, [], [IpPrefix.Parse("203.0.113.0/24")]);
        Assert.True(acl.IsAllowed(NetAddress.Parse("203.0.113.9")));
        Assert.False(acl.IsAllowed(NetAddress.Parse("203.0.114.9")));
    }

    [Fact]
    public void IsAllowed_ConfiguredListReplacesDefault()
    {
        ClientAcl acl = ClientAcl.Create(["198.51.100.0/24"], [], []);
        Assert.True(acl.IsAllowed(NetAddress.Parse("198.51.100.7")));
        Assert.False(acl.IsAllowed(NetAddress.Parse("192.168.1.1")));
    }

    [Fact]
    public void IsAllowed_DeniedInsideAllowed_Refused()
    {
        ClientAcl acl = ClientAcl.Create(null, ["192.168.66.0/24"], []);
        Assert.False(acl.IsAllowed(NetAddress.Parse("192.168.66.1")));
        Assert.True(acl.IsAllowed(NetAddress.Parse("192.168.67.1")));
    }

    [Fact]
    public void AdmitsAll_OnlyWhenEveryAddressIsAllowed()
    {
        Assert.False(ClientAcl.Create(null, [], []).AdmitsAll);
        Assert.False(ClientAcl.Create(["0.0.0.0/0"], [], []).AdmitsAll);
        Assert.True(ClientAcl.Create(["0.0.0.0/0", "::/0"], [], []).AdmitsAll);
        Assert.False(ClientAcl.Create(["0.0.0.0/0", "::/0"], ["198.51.100.0/24"], []).AdmitsAll);
    }

    [Theory]
    [InlineData("0.0.0.0", true)]
    [InlineData("::", true)]
    [InlineData("198.51.100.1", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("fd00::1", false)]
    public void IsPublic_ListenAddress(string address, bool expected) =>
        Assert.Equal(expected, ClientAcl.IsPublic(NetAddress.Parse(address)));
}
