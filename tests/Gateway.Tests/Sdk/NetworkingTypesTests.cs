using Gateway.Sdk.Networking;

namespace Gateway.Tests.Sdk;

public sealed class NetworkingTypesTests
{
    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("10.30.30.30")]
    [InlineData("192.168.100.9")]
    [InlineData("255.255.255.255")]
    [InlineData("fd00::30")]
    [InlineData("::ffff:10.0.0.1")]
    public void NetAddress_TryFormatUtf8_SameTextAsToStringAndFalseWhenTooShort(string text)
    {
        NetAddress address = NetAddress.Parse(text);
        Span<byte> utf8 = stackalloc byte[64];
        Assert.True(address.TryFormat(utf8, out int written, default, null));
        Assert.Equal(address.ToString(), System.Text.Encoding.ASCII.GetString(utf8[..written]));
        Assert.False(address.TryFormat(utf8[..(written - 1)], out _, default, null));
    }

    [Theory]
    [InlineData("10.30.30.30:53", "10.30.30.30", 53)]
    [InlineData("[fd00::30]:53", "fd00::30", 53)]
    [InlineData(" 127.0.0.1:5353 ", "127.0.0.1", 5353)]
    public void NetEndpoint_TryParse_Valid_ParsesAddressAndPort(string text, string address, int port)
    {
        Assert.True(NetEndpoint.TryParse(text, out NetEndpoint endpoint));
        Assert.Equal(NetAddress.Parse(address), endpoint.Address);
        Assert.Equal(port, endpoint.Port);
    }

    [Theory]
    [InlineData("10.30.30.30")]
    [InlineData("10.30.30.30:0")]
    [InlineData("10.30.30.30:65536")]
    [InlineData("fd00::30:53")]
    [InlineData("[fd00::30]")]
    [InlineData("host.example:53")]
    [InlineData("300.1.1.1:53")]
    public void NetEndpoint_TryParse_Invalid_ReturnsFalse(string text) =>
        Assert.False(NetEndpoint.TryParse(text, out _));

    [Theory]
    [InlineData("10.99.0.7/24", "10.99.0.0/24")]
    [InlineData("fd99::1/64", "fd99::/64")]
    [InlineData("10.0.0.1", "10.0.0.1/32")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    public void IpPrefix_TryParse_NormalizesNetwork(string text, string expected)
    {
        Assert.True(IpPrefix.TryParse(text, out IpPrefix prefix));
        Assert.Equal(expected, prefix.ToString());
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("fd00::/129")]
    [InlineData("10.0.0/8")]
    [InlineData("10.0.0.0/")]
    public void IpPrefix_TryParse_Invalid_ReturnsFalse(string text) =>
        Assert.False(IpPrefix.TryParse(text, out _));

    [Fact]
    public void IpPrefix_Contains_ChecksFamilyAndBits()
    {
        IpPrefix prefix = IpPrefix.Parse("10.99.0.0/24");
        Assert.True(prefix.Contains(NetAddress.Parse("10.99.0.255")));
        Assert.False(prefix.Contains(NetAddress.Parse("10.99.1.0")));
        Assert.False(prefix.Contains(NetAddress.Parse("::ffff:10.99.0.1").IsV4 ? NetAddress.Parse("fd99::1") : default));
        Assert.True(IpPrefix.Parse("0.0.0.0/0").Contains(NetAddress.Parse("203.0.113.5")));
        Assert.False(IpPrefix.Parse("0.0.0.0/0").Contains(NetAddress.Parse("::1")));
    }

    [Fact]
    public void NetAddress_V4AndV6WithSameBits_AreDifferent()
    {
        NetAddress v4 = NetAddress.FromV4(1);
        NetAddress v6 = NetAddress.FromV6(1);
        Assert.NotEqual(v4, v6);
        Assert.Equal("0.0.0.1", v4.ToString());
        Assert.Equal("::1", v6.ToString());
    }
}
