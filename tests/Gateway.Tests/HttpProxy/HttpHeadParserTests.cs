using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy;

public sealed class HttpHeadParserTests
{
    private static byte[] Head(string text) => Encoding.ASCII.GetBytes(text);

    [Fact]
    public void ParseRequest_AbsoluteForm_ReadsMethodTargetVersionAndFields()
    {
        byte[] head = Head("GET http://example.test:8080/a?b HTTP/1.1\r\nHost: example.test:8080\r\nAccept: */*\r\nContent-Length: 0\r\n\r\n");
        var fields = new HeaderField[16];

        HttpParseError error = HttpHeadParser.ParseRequest(head, fields, out RequestHead request);

        Assert.Equal(HttpParseError.None, error);
        Assert.Equal("GET", Encoding.ASCII.GetString(request.Method(head)));
        Assert.Equal("http://example.test:8080/a?b", Encoding.ASCII.GetString(request.Target(head)));
        Assert.Equal(1, request.MinorVersion);
        Assert.Equal(3, request.Headers.Count);
        Assert.Equal(0, request.Headers.ContentLength);
        Assert.Equal("*/*", Encoding.ASCII.GetString(fields[1].Value(head)));
        Assert.True(request.KeepAlive);
        Assert.False(request.HasBody);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("GET  http://a/ HTTP/1.1\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nName : v\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nName: v\r\n folded\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nNo colon\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n")]
    [InlineData("GET http://a/ HTTX/1.1\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nContent-Length: 1x\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    public void ParseRequest_MalformedHead_IsRefused(string text)
    {
        Assert.NotEqual(HttpParseError.None, HttpHeadParser.ParseRequest(Head(text), new HeaderField[16], out _));
    }

    [Theory]
    [InlineData("GET http://a/ HTTP/1.1\r\nName : v\r\n\r\n", "WhitespaceBeforeColon")]
    [InlineData("GET http://a/ HTTP/1.1\r\nName: v\r\n folded\r\n\r\n", "ObsFold")]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "DuplicateHost")]
    [InlineData("GET http://a/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n", "BadContentLength")]
    [InlineData("GET http://a/caf\u00e9 HTTP/1.1\r\n\r\n", "Malformed")]
    [InlineData("GET http://a/ HTTP/2.0\r\n\r\n", "UnsupportedVersion")]
    public void ParseRequest_EachRefusal_NamesItsReason(string text, string expected)
    {
        Assert.Equal(Enum.Parse<HttpParseError>(expected), HttpHeadParser.ParseRequest(Encoding.Latin1.GetBytes(text), new HeaderField[16], out _));
    }

    [Fact]
    public void ParseRequest_Http12_IsReadAsHttp11()
    {
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseRequest(Head("GET http://a/ HTTP/1.2\r\n\r\n"), new HeaderField[4], out RequestHead request));

        Assert.Equal(1, request.MinorVersion);
    }

    [Theory]
    [InlineData("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")]
    public void ParseRequest_ConflictingFraming_IsRejected(string text)
    {
        Assert.Equal(HttpParseError.ConflictingLength, HttpHeadParser.ParseRequest(Head(text), new HeaderField[16], out _));
    }

    [Theory]
    [InlineData("POST http://a/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: Content-Length\r\n\r\n")]
    [InlineData("POST http://a/ HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, content-length\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("POST http://a/ HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: Transfer-Encoding\r\n\r\n")]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\nConnection: HOST\r\n\r\n")]
    public void ParseRequest_ConnectionNamesFramingField_IsRefused(string text)
    {
        // Issue #13: the field would be dropped as hop-by-hop while the body is still relayed by it.
        Assert.Equal(HttpParseError.FramingFieldInConnection, HttpHeadParser.ParseRequest(Head(text), new HeaderField[16], out _));
    }

    [Fact]
    public void ParseResponse_ConnectionNamesContentLength_IsRefused()
    {
        Assert.Equal(HttpParseError.FramingFieldInConnection,
            HttpHeadParser.ParseResponse(Head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\n"), new HeaderField[16], out _));
    }

    [Theory]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "UnsupportedTransferCoding")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", "UnsupportedTransferCoding")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", "ChunkedNotFinal")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "ChunkedNotFinal")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "ChunkedTwice")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "ChunkedTwice")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", "ChunkedNotFinal")]
    [InlineData("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", "ChunkedNotFinal")]
    [InlineData("POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "TransferEncodingInHttp10")]
    public void ParseRequest_TransferEncodingSplitOrStacked_ReadAsOneListAndRefused(string text, string expected)
    {
        Assert.Equal(Enum.Parse<HttpParseError>(expected), HttpHeadParser.ParseRequest(Head(text), new HeaderField[16], out _));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", true)]
    [InlineData("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n", true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false)]
    public void ParseResponse_FaultyFraming_ReadByTransferEncodingThenClosed(string text, bool faulty)
    {
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseResponse(Head(text), new HeaderField[8], out ResponseHead response));

        Assert.True(response.Headers.Chunked);
        Assert.Equal(-1, response.Headers.ContentLength);
        Assert.Equal(faulty, response.FaultyFraming);
        Assert.Equal(!faulty, response.KeepAlive);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")]
    public void ParseResponse_BadFramingFromOrigin_IsRefused(string text)
    {
        Assert.NotEqual(HttpParseError.None, HttpHeadParser.ParseResponse(Head(text), new HeaderField[8], out _));
    }

    [Theory]
    [InlineData("GET http://a/ HTTP/1.1\nHost: a\n", true)]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\n", true)]
    [InlineData("GET http://a/ HTTP/1.1\r\nX: a\rb", true)]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r", false)]
    [InlineData("GET http://a/ HTTP/1.1\r\nHost: a\r\n", false)]
    [InlineData("GET http://a/ HTTP/1.1", false)]
    public void HasBareLineBreak_IncompleteHead_SpotsLfWithoutCr(string text, bool bare)
    {
        Assert.Equal(bare, HttpHeadParser.HasBareLineBreak(Head(text)));
    }

    [Fact]
    public void ParseRequest_RepeatedEqualContentLength_IsAccepted()
    {
        HttpParseError error = HttpHeadParser.ParseRequest(Head("POST http://a/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), new HeaderField[16], out RequestHead request);

        Assert.Equal(HttpParseError.None, error);
        Assert.Equal(5, request.Headers.ContentLength);
        Assert.True(request.HasBody);
    }

    [Fact]
    public void ParseRequest_TooManyFields_IsTooManyHeaders()
    {
        Assert.Equal(HttpParseError.TooManyHeaders, HttpHeadParser.ParseRequest(Head("GET http://a/ HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), new HeaderField[2], out _));
    }

    [Fact]
    public void ParseRequest_Http2Version_IsUnsupported()
    {
        Assert.Equal(HttpParseError.UnsupportedVersion, HttpHeadParser.ParseRequest(Head("GET http://a/ HTTP/2.0\r\n\r\n"), new HeaderField[2], out _));
        Assert.Equal(505, HttpParseErrors.Status(HttpParseError.UnsupportedVersion));
    }

    [Theory]
    [InlineData("HTTP/1.1", "", true)]
    [InlineData("HTTP/1.1", "Connection: close\r\n", false)]
    [InlineData("HTTP/1.0", "", false)]
    [InlineData("HTTP/1.0", "Connection: Keep-Alive\r\n", true)]
    public void ParseRequest_Persistence_FollowsVersionAndConnection(string version, string fields, bool keepAlive)
    {
        HttpHeadParser.ParseRequest(Head($"GET http://a/ {version}\r\n{fields}\r\n"), new HeaderField[4], out RequestHead request);

        Assert.Equal(keepAlive, request.KeepAlive);
    }

    [Fact]
    public void ParseRequest_ChunkedAndExpect_AreRecognised()
    {
        HttpParseError error = HttpHeadParser.ParseRequest(Head("PUT http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n"), new HeaderField[4], out RequestHead request);

        Assert.Equal(HttpParseError.None, error);
        Assert.True(request.Headers.Chunked);
        Assert.True(request.Headers.ExpectContinue);
        Assert.True(request.HasBody);
    }

    [Theory]
    [InlineData("GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", true)]
    [InlineData("GET http://a/ HTTP/1.1\r\nConnection: keep-alive, UPGRADE\r\nUpgrade: websocket\r\n\r\n", true)]
    [InlineData("GET http://a/ HTTP/1.1\r\nConnection: keep-alive\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n", true)]
    [InlineData("GET http://a/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", false)]
    [InlineData("GET http://a/ HTTP/1.1\r\nConnection: upgrade\r\n\r\n", false)]
    [InlineData("GET http://a/ HTTP/1.1\r\nConnection: upgraded\r\nUpgrade: websocket\r\n\r\n", false)]
    [InlineData("GET http://a/ HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", false)]
    [InlineData("POST http://a/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 5\r\n\r\n", false)]
    [InlineData("POST http://a/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nTransfer-Encoding: chunked\r\n\r\n", false)]
    [InlineData("CONNECT a:443 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", false)]
    public void ParseRequest_UpgradeFields_IsUpgradeOnlyWithConnectionTokenHttp11AndNoBody(string text, bool isUpgrade)
    {
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseRequest(Head(text), new HeaderField[8], out RequestHead request));

        Assert.Equal(isUpgrade, request.IsUpgrade);
    }

    [Fact]
    public void ParseResponse_StatusLine_ReadsStatusAndFraming()
    {
        byte[] head = Head("HTTP/1.0 200 OK\r\nContent-Length: 1024\r\nServer: x\r\n\r\n");

        HttpParseError error = HttpHeadParser.ParseResponse(head, new HeaderField[4], out ResponseHead response);

        Assert.Equal(HttpParseError.None, error);
        Assert.Equal(200, response.Status);
        Assert.Equal(0, response.MinorVersion);
        Assert.Equal(1024, response.Headers.ContentLength);
        Assert.False(response.KeepAlive);
        Assert.Equal("200 OK", Encoding.ASCII.GetString(head.AsSpan(response.StatusStart, response.StatusLineEnd - response.StatusStart)));
    }

    [Fact]
    public void ParseResponse_ChunkedWithLength_DropsLength()
    {
        HttpHeadParser.ParseResponse(Head("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n"), new HeaderField[4], out ResponseHead response);

        Assert.True(response.Headers.Chunked);
        Assert.Equal(-1, response.Headers.ContentLength);
    }

    [Theory]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 600 Huh\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("ICY 200 OK\r\n\r\n")]
    public void ParseResponse_BadStatusLine_IsMalformed(string text)
    {
        Assert.Equal(HttpParseError.Malformed, HttpHeadParser.ParseResponse(Head(text), new HeaderField[4], out _));
    }

    [Fact]
    public void FindHeadEnd_SplitAcrossReads_FindsEnd()
    {
        byte[] buffer = Head("GET / HTTP/1.1\r\nA: b\r\n\r\nBODY");

        Assert.Equal(-1, HttpHeadParser.FindHeadEnd(buffer.AsSpan(0, 22), 0));
        Assert.Equal(24, HttpHeadParser.FindHeadEnd(buffer, 22));
    }
}
