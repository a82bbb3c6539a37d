using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy;

/// <summary>Inputs the http-head fuzz target found (docs/fuzzing.md), each kept as the behaviour it proves.</summary>
public sealed class HttpHeadParserFuzzRegressionTests
{
    [Theory]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\rContent-Length: 5\r\n\r\n")]
    [InlineData("HTTP/1.1 200 O\u0005K\r\nContent-Length: 5\r\n\r\n")]
    public void ParseResponse_ControlCharacterInReasonPhrase_MalformedSoTheClientNeverSeesASplitStatusLine(string text)
    {
        // The reason phrase is forwarded as received: a bare LF in it would start a second header block for the client.
        byte[] head = Encoding.Latin1.GetBytes(text);
        Assert.Equal(HttpParseError.Malformed, HttpHeadParser.ParseResponse(head, new HeaderField[8], out _));
    }

    [Fact]
    public void ParseResponse_ReasonPhraseWithTabAndObsText_Accepted()
    {
        byte[] head = Encoding.Latin1.GetBytes("HTTP/1.1 200 Tr\u00e8s\tbien\r\nContent-Length: 5\r\n\r\n");
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseResponse(head, new HeaderField[8], out ResponseHead response));
        Assert.Equal(5, response.Headers.ContentLength);
    }
}
