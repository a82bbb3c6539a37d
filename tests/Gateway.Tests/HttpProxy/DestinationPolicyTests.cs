using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.HttpProxy;

public sealed class DestinationPolicyTests
{
    private static readonly HostAddresses Host = HostAddresses.Fixed(NetAddress.Parse("192.0.2.10"), NetAddress.Parse("2001:db8::10"));

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.200.0.1", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("224.0.0.1", "multicast or broadcast")]
    [InlineData("255.255.255.255", "multicast or broadcast")]
    [InlineData("ff02::1", "multicast or broadcast")]
    [InlineData("192.0.2.10", "this host's own address")]
    [InlineData("2001:db8::10", "this host's own address")]
    public void IsAllowed_DefaultPolicy_RefusesLocalAndSpecialAddressesWithTheirRule(string address, string rule)
    {
        var policy = new DestinationPolicy(new HttpProxyOptions().DenyDestinations, [], Host);

        Assert.False(policy.IsAllowed(NetAddress.Parse(address), out string matched));
        Assert.Equal(rule, matched);
    }

    [Theory]
    [InlineData("192.0.2.11")]
    [InlineData("10.1.2.3")]
    [InlineData("2001:db8::11")]
    [InlineData("8.8.8.8")]
    public void IsAllowed_DefaultPolicy_AllowsOtherAddresses(string address)
    {
        var policy = new DestinationPolicy(new HttpProxyOptions().DenyDestinations, [], Host);

        Assert.True(policy.IsAllowed(NetAddress.Parse(address), out _));
    }

    [Fact]
    public void IsAllowed_AllowDestinationsException_WinsOverDeny()
    {
        var policy = new DestinationPolicy(Rules("default", "10.0.0.0/8"), Rules("127.0.0.2", "10.5.0.0/16"), Host);

        Assert.True(policy.IsAllowed(NetAddress.Parse("127.0.0.2"), out _));
        Assert.True(policy.IsAllowed(NetAddress.Parse("10.5.1.1"), out _));
        Assert.False(policy.IsAllowed(NetAddress.Parse("127.0.0.1"), out _));
        Assert.False(policy.IsAllowed(NetAddress.Parse("10.6.1.1"), out string rule));
        Assert.Equal("10.0.0.0/8", rule);
    }

    [Fact]
    public void TryParse_UnknownName_IsRefused()
    {
        Assert.False(DestinationRule.TryParse("localhost", []));
        Assert.False(DestinationRule.TryParse("10.0.0.0/33", []));
    }

    private static List<DestinationRule> Rules(params string[] texts)
    {
        List<DestinationRule> rules = [];
        foreach (string text in texts)
        {
            Assert.True(DestinationRule.TryParse(text, rules), text);
        }

        return rules;
    }
}
