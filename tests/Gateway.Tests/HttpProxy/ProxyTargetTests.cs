using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy;

public sealed class ProxyTargetTests
{
    [Theory]
    [InlineData("http://example.test/a/b?c=d", "example.test", "example.test", 80, "/a/b?c=d")]
    [InlineData("HTTP://Example.test:8080", "Example.test:8080", "Example.test", 8080, "")]
    [InlineData("http://127.0.0.1:8000/1k.bin", "127.0.0.1:8000", "127.0.0.1", 8000, "/1k.bin")]
    [InlineData("http://[::1]:81/x", "[::1]:81", "::1", 81, "/x")]
    [InlineData("http://a.test?q", "a.test", "a.test", 80, "?q")]
    public void TryParseAbsolute_ValidUri_SplitsAuthorityHostPortPath(string uri, string authority, string host, int port, string path)
    {
        byte[] target = Encoding.ASCII.GetBytes(uri);

        Assert.True(ProxyTarget.TryParseAbsolute(target, out ProxyTarget parsed));
        Assert.Equal(authority, Encoding.ASCII.GetString(parsed.Authority(target)));
        Assert.Equal(host, Encoding.ASCII.GetString(parsed.Host(target)));
        Assert.Equal(port, parsed.Port);
        Assert.Equal(path, parsed.PathStart < 0 ? string.Empty : uri[parsed.PathStart..]);
    }

    [Theory]
    [InlineData("/relative")]
    [InlineData("https://a.test/")]
    [InlineData("http://user@a.test/")]
    [InlineData("http://a.test:0/")]
    [InlineData("http://a.test:65536/")]
    [InlineData("http://a.test:x/")]
    [InlineData("http:///path")]
    [InlineData("http://a.test/#frag")]
    [InlineData("http://a\"b/")]
    public void TryParseAbsolute_Invalid_IsRejected(string uri)
    {
        Assert.False(ProxyTarget.TryParseAbsolute(Encoding.ASCII.GetBytes(uri), out _));
    }

    [Theory]
    [InlineData("a.test:443", true, 443)]
    [InlineData("[2001:db8::1]:8443", true, 8443)]
    [InlineData("a.test", false, 0)]
    [InlineData("a.test:", false, 0)]
    public void TryParseConnect_AuthorityForm_NeedsPort(string authority, bool valid, int port)
    {
        Assert.Equal(valid, ProxyTarget.TryParseConnect(Encoding.ASCII.GetBytes(authority), out ProxyTarget parsed));
        if (valid)
        {
            Assert.Equal(port, parsed.Port);
        }
    }
}
