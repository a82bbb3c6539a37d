using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy.Parents;

public sealed class ParentHandshakeTests
{
    [Fact]
    public void ConnectRequest_HttpParentWithCredentials_SendsBasicProxyAuthorization()
    {
        ParentProxy parent = Parent("http://alice:s3cret@192.0.2.10:3128");

        string request = Encoding.ASCII.GetString(ParentHandshake.ConnectRequest(parent, "www.example.test", 443));

        // base64("alice:s3cret") (RFC 7617 §2).
        Assert.Equal("CONNECT www.example.test:443 HTTP/1.1\r\nHost: www.example.test:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n", request);
    }

    [Fact]
    public void ConnectRequest_HttpParentIPv6Destination_Bracketed()
    {
        string request = Encoding.ASCII.GetString(ParentHandshake.ConnectRequest(Parent("http://192.0.2.10:3128"), "2001:db8::1", 22));

        Assert.Equal("CONNECT [2001:db8::1]:22 HTTP/1.1\r\nHost: [2001:db8::1]:22\r\n\r\n", request);
    }

    [Fact]
    public void ConnectRequest_Socks5Name_SentAsDomainForTheParentToResolve()
    {
        byte[] request = ParentHandshake.ConnectRequest("parent.test", 8080);

        Assert.Equal([5, 1, 0, 3, 11, .. "parent.test"u8, 0x1F, 0x90], request);
    }

    [Theory]
    [InlineData("192.0.2.1", new byte[] { 5, 1, 0, 1, 192, 0, 2, 1, 0, 80 })]
    [InlineData("::1", new byte[] { 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80 })]
    public void ConnectRequest_Socks5Address_SentAsIPv4OrIPv6(string host, byte[] expected)
    {
        Assert.Equal(expected, ParentHandshake.ConnectRequest(host, 80));
    }

    [Fact]
    public void WriteAbsoluteForm_StagedOriginForm_BecomesAbsoluteWithAuthorizationBeforeTheBlankLine()
    {
        byte[] staged = "GET /path?q=1 HTTP/1.1\r\nHost: origin.test:8000\r\nAccept: */*\r\nVia: 1.1 gateway\r\n\r\n"u8.ToArray();
        var output = new ArrayBufferWriter<byte>();

        HeadWriter.WriteAbsoluteForm(output, staged, "Proxy-Authorization: Basic eDp5\r\n"u8);

        Assert.Equal(
            "GET http://origin.test:8000/path?q=1 HTTP/1.1\r\nHost: origin.test:8000\r\nAccept: */*\r\nVia: 1.1 gateway\r\nProxy-Authorization: Basic eDp5\r\n\r\n",
            Encoding.ASCII.GetString(output.WrittenSpan));
    }

    private static ParentProxy Parent(string url)
    {
        Assert.True(ParentProxyUrl.TryParse(url, out ParentProxyUrl? parsed, out string error), error);
        return new ParentProxy(new ParentProxyOptions { Proxy = parsed!.ToString(), Url = parsed }, new ParentHealth());
    }
}
