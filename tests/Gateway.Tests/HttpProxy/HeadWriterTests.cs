using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy;

public sealed class HeadWriterTests
{
    [Fact]
    public void WriteRequest_AbsoluteForm_OriginFormWithoutHopByHopFieldsAndWithVia()
    {
        string written = WriteRequest(
            "GET http://origin.test:8000/path?q=1 HTTP/1.1\r\n" +
            "Host: wrong.test\r\n" +
            "Connection: keep-alive, X-Secret\r\n" +
            "Keep-Alive: timeout=5\r\n" +
            "Proxy-Connection: keep-alive\r\n" +
            "Proxy-Authorization: Basic eDp5\r\n" +
            "TE: trailers\r\n" +
            "Trailer: X-T\r\n" +
            "Upgrade: websocket\r\n" +
            "X-Secret: hidden\r\n" +
            "Accept: */*\r\n" +
            "User-Agent: test\r\n\r\n");

        Assert.Equal(
            "GET /path?q=1 HTTP/1.1\r\nHost: origin.test:8000\r\nAccept: */*\r\nUser-Agent: test\r\nVia: 1.1 gateway\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteRequest_UpgradeNamedInConnection_KeepsUpgradeAndOnlyTheUpgradeOption()
    {
        string written = WriteRequest(
            "GET http://origin.test:8000/chat HTTP/1.1\r\n" +
            "Host: origin.test:8000\r\n" +
            "Connection: keep-alive, X-Secret, Upgrade\r\n" +
            "Keep-Alive: timeout=5\r\n" +
            "Proxy-Connection: keep-alive\r\n" +
            "X-Secret: hidden\r\n" +
            "Upgrade: websocket\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Sec-WebSocket-Version: 13\r\n\r\n");

        Assert.Equal(
            "GET /chat HTTP/1.1\r\nHost: origin.test:8000\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Sec-WebSocket-Version: 13\r\nConnection: upgrade\r\nVia: 1.1 gateway\r\n\r\n",
            written);
    }

    [Theory]
    [InlineData("GET http://a.test/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.test\r\nVia: 1.1 gateway\r\n\r\n")]
    [InlineData("GET http://a.test/ HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.test\r\nVia: 1.1 gateway\r\n\r\n")]
    [InlineData("POST http://a.test/ HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\nVia: 1.1 gateway\r\n\r\n")]
    [InlineData("POST http://a.test/ HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nVia: 1.1 gateway\r\n\r\n")]
    public void WriteRequest_UpgradeWithoutTokenOrWithBodyOrHttp10_StripsUpgrade(string request, string expected)
    {
        Assert.Equal(expected, WriteRequest(request));
    }

    [Fact]
    public void WriteRequest_ChunkedBody_KeepsChunkedFraming()
    {
        string written = WriteRequest("POST http://a.test HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");

        Assert.Equal("POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nVia: 1.1 gateway\r\n\r\n", written);
    }

    [Fact]
    public void WriteRequest_RepeatedContentLength_GoesOutOnceAsTheParsedNumber()
    {
        string written = WriteRequest("POST http://a.test/ HTTP/1.1\r\nContent-Length: 005\r\nX: y\r\nContent-Length:5\r\n\r\n");

        Assert.Equal("POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nX: y\r\nVia: 1.1 gateway\r\n\r\n", written);
    }

    [Fact]
    public void WriteResponse_GzipThenChunked_KeepsTheWholeCodingList()
    {
        byte[] head = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
        var fields = new HeaderField[8];
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseResponse(head, fields, out ResponseHead response));
        var output = new ArrayBufferWriter<byte>();

        HeadWriter.WriteResponse(output, head, response, fields.AsSpan(0, response.Headers.Count), chunked: true, close: false, keepAlive: false);

        Assert.Equal("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\nVia: 1.1 gateway\r\n\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void WriteResponse_Http10Origin_OurVersionAndCloseWhenAsked()
    {
        string written = WriteResponse("HTTP/1.0 404 File not found\r\nServer: SimpleHTTP\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", close: true);

        Assert.Equal(
            "HTTP/1.1 404 File not found\r\nServer: SimpleHTTP\r\nContent-Length: 3\r\nConnection: close\r\nVia: 1.1 gateway\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteResponse_NoReasonPhrase_KeepsSpaceAfterStatus()
    {
        Assert.Equal("HTTP/1.1 204 \r\nVia: 1.1 gateway\r\n\r\n", WriteResponse("HTTP/1.1 204\r\n\r\n"));
    }

    [Fact]
    public void WriteResponse_SwitchingProtocols_KeepsUpgradeAndAcceptAndConnectionUpgrade()
    {
        string written = WriteResponse(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\nX-Hop: 1\r\n" +
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            upgrade: true);

        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
            "Connection: upgrade\r\nVia: 1.1 gateway\r\n\r\n",
            written);
    }

    [Fact]
    public void WriteStatus_ErrorResponse_IsCompleteAndCloses()
    {
        var output = new ArrayBufferWriter<byte>();

        HeadWriter.WriteStatus(output, 400, "Bad Request", "bad");

        Assert.Equal(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\nVia: 1.1 gateway\r\n\r\nbad\n",
            Encoding.ASCII.GetString(output.WrittenSpan));
    }

    private static string WriteRequest(string text)
    {
        byte[] head = Encoding.ASCII.GetBytes(text);
        var fields = new HeaderField[32];
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseRequest(head, fields, out RequestHead request));
        Assert.True(ProxyTarget.TryParseAbsolute(request.Target(head), out ProxyTarget target));
        var output = new ArrayBufferWriter<byte>();
        HeadWriter.WriteRequest(output, head, request, fields.AsSpan(0, request.Headers.Count), target);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    private static string WriteResponse(string text, bool close = false, bool upgrade = false)
    {
        byte[] head = Encoding.ASCII.GetBytes(text);
        var fields = new HeaderField[8];
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseResponse(head, fields, out ResponseHead response));
        var output = new ArrayBufferWriter<byte>();
        HeadWriter.WriteResponse(output, head, response, fields.AsSpan(0, response.Headers.Count), chunked: false, close, keepAlive: false, upgrade);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }
}
