using Gateway.Plugins.HttpProxy.Parents;

namespace Gateway.Tests.HttpProxy.Parents;

public sealed class ParentProxyUrlTests
{
    [Fact]
    public void TryParse_HttpWithCredentials_SplitsThemAndLeavesThemOutOfTheName()
    {
        Assert.True(ParentProxyUrl.TryParse("http://alice:p%40ss:word@192.0.2.10:3128", out ParentProxyUrl? url, out _));

        Assert.Equal(ParentProtocol.Http, url!.Protocol);
        Assert.Equal("192.0.2.10", url.Endpoint.Host);
        Assert.Equal(3128, url.Endpoint.Port);
        Assert.Equal("alice", url.User);
        Assert.Equal("p@ss:word", url.Password);
        Assert.Equal("http://192.0.2.10:3128", url.ToString());
    }

    [Theory]
    [InlineData("socks5://proxy.example.test:1080", "socks5://proxy.example.test:1080")]
    [InlineData("SOCKS5H://[2001:db8::1]:1080/", "socks5://[2001:db8::1]:1080")]
    [InlineData("http://Proxy.Example.Test.:8080", "http://proxy.example.test:8080")]
    public void TryParse_Socks5AndNames_Normalized(string text, string expected)
    {
        Assert.True(ParentProxyUrl.TryParse(text, out ParentProxyUrl? url, out string error), error);

        Assert.Equal(expected, url!.ToString());
        Assert.Null(url.User);
    }

    [Theory]
    [InlineData("https://proxy.test:443", "scheme 'https' is not supported")]
    [InlineData("proxy.test:3128", "must be http://host:port or socks5://host:port")]
    [InlineData("http://proxy.test", "is not host:port (the port is required")]
    [InlineData("http://proxy.test:0", "is not host:port")]
    [InlineData("http://proxy.test:3128/path", "without a path")]
    [InlineData("http://:secret@proxy.test:3128", "the user name is empty")]
    public void TryParse_Invalid_SaysWhatIsWrongWithoutThePassword(string text, string expected)
    {
        Assert.False(ParentProxyUrl.TryParse(text, out _, out string error));

        Assert.Contains(expected, error);
        Assert.DoesNotContain("secret", error);
    }

    [Fact]
    public void TryParse_Socks5PasswordOver255Bytes_Refused()
    {
        Assert.False(ParentProxyUrl.TryParse($"socks5://u:{new string('x', 256)}@proxy.test:1080", out _, out string error));

        Assert.Contains("RFC 1929", error);
    }

    [Theory]
    [InlineData("http://alice:secret@proxy.test:3128", "http://alice:***@proxy.test:3128")]
    [InlineData("http://alice@proxy.test:3128", "http://alice@proxy.test:3128")]
    [InlineData("http://proxy.test:3128", "http://proxy.test:3128")]
    public void Redact_HidesOnlyThePassword(string text, string expected)
    {
        Assert.Equal(expected, ParentProxyUrl.Redact(text));
    }
}
