using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy;

/// <summary>Inputs the http-chunked fuzz target found (docs/fuzzing.md), each kept as the behaviour it proves.</summary>
public sealed class ChunkedBodyParserFuzzRegressionTests
{
    [Theory]
    [InlineData("0\r\n\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("0\r\nX-Trailer: a\r\n\nGET /smuggled HTTP/1.1\r\n\r\n")]
    public void Advance_BareLfWhereATrailerLineStarts_InvalidSoNoHopSeesTheBodyEndThere(string body)
    {
        // A lenient origin takes "0\r\n\n" as the end of the body: what follows would be a request of its own there.
        var parser = default(ChunkedBodyParser);
        ChunkStatus status = parser.Advance(Encoding.ASCII.GetBytes(body), out _, out _, out _);
        Assert.Equal(ChunkStatus.Invalid, status);
    }

    [Fact]
    public void Advance_TrailerFieldsThenEmptyLine_DoneBeforeThePipelinedRequest()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("0\r\nExpires: never\r\n\r\nGET /next HTTP/1.1\r\n");
        var parser = default(ChunkedBodyParser);
        Assert.Equal(ChunkStatus.Done, parser.Advance(bytes, out int consumed, out _, out _));
        Assert.Equal("GET /next HTTP/1.1\r\n", Encoding.ASCII.GetString(bytes.AsSpan(consumed)));
    }
}
