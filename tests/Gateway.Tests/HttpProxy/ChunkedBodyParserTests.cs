using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy;

public sealed class ChunkedBodyParserTests
{
    // RFC 9112 §7.1 example shape: two chunks with an extension, a last chunk and a trailer.
    private const string Body = "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n";

    [Fact]
    public void Advance_WholeBody_DecodesDataAndConsumesAll()
    {
        (ChunkStatus status, string data, int consumed) = Run(Encoding.ASCII.GetBytes(Body), stepSize: int.MaxValue);

        Assert.Equal(ChunkStatus.Done, status);
        Assert.Equal("Wikipedia in\r\n\r\nchunks.", data);
        Assert.Equal(Body.Length, consumed);
    }

    [Fact]
    public void Advance_OneByteAtATime_SameResult()
    {
        (ChunkStatus status, string data, int consumed) = Run(Encoding.ASCII.GetBytes(Body), stepSize: 1);

        Assert.Equal(ChunkStatus.Done, status);
        Assert.Equal("Wikipedia in\r\n\r\nchunks.", data);
        Assert.Equal(Body.Length, consumed);
    }

    [Fact]
    public void Advance_BytesAfterBody_AreNotConsumed()
    {
        (ChunkStatus status, _, int consumed) = Run(Encoding.ASCII.GetBytes("0\r\n\r\nGET /next"), stepSize: int.MaxValue);

        Assert.Equal(ChunkStatus.Done, status);
        Assert.Equal(5, consumed);
    }

    [Theory]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("\r\n")]
    [InlineData("5\r\nhelloX\r\n0\r\n\r\n")]
    [InlineData("5\nhello\r\n0\r\n\r\n")]
    [InlineData("1000000000000000\r\n")]
    [InlineData("-5\r\n")]
    [InlineData("5 \r\nhello\r\n0\r\n\r\n")]
    [InlineData("5 ;a\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a=\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a=\"b\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a=b c\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\0\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\n0\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\n folded: x\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\nNoColon\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\nX: a\0b\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\n\n")]
    [InlineData("5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\ntransfer-encoding: chunked\r\n\r\n")]
    public void Advance_BadFraming_IsInvalid(string body)
    {
        (ChunkStatus status, _, _) = Run(Encoding.ASCII.GetBytes(body), stepSize: int.MaxValue);

        Assert.Equal(ChunkStatus.Invalid, status);
    }

    [Theory]
    [InlineData("5;a\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a=b;c=\"d e\\\"f\";g\r\nhello\r\n0;last\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\nX-Trailer: a b\tc\r\nY:\r\n\r\n")]
    [InlineData("000005\r\nhello\r\n0\r\n\r\n")]
    [InlineData("0000000000000000000005\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello\r\n0\r\nContent-Lengthy: 5\r\nContent-Lengt: 1\r\n\r\n")]
    public void Advance_ExtensionsAndTrailersByTheGrammar_AreAccepted(string body)
    {
        (ChunkStatus status, string data, int consumed) = Run(Encoding.ASCII.GetBytes(body), stepSize: 1);

        Assert.Equal(ChunkStatus.Done, status);
        Assert.Equal("hello", data);
        Assert.Equal(body.Length, consumed);
    }

    [Fact]
    public void Advance_Incomplete_NeedsMore()
    {
        (ChunkStatus status, string data, _) = Run(Encoding.ASCII.GetBytes("5\r\nhel"), stepSize: int.MaxValue);

        Assert.Equal(ChunkStatus.NeedMore, status);
        Assert.Equal("hel", data);
    }

    private static (ChunkStatus Status, string Data, int Consumed) Run(byte[] input, int stepSize)
    {
        ChunkedBodyParser parser = default;
        var data = new StringBuilder();
        int position = 0;
        int available = Math.Min(stepSize, input.Length);
        ChunkStatus status = ChunkStatus.NeedMore;
        while (position < input.Length)
        {
            ReadOnlySpan<byte> window = input.AsSpan(position, available - position);
            status = parser.Advance(window, out int consumed, out int offset, out int length);
            data.Append(Encoding.ASCII.GetString(window.Slice(offset, length)));
            position += consumed;
            if (status != ChunkStatus.NeedMore)
            {
                break;
            }

            if (position == available)
            {
                if (available == input.Length)
                {
                    break;
                }

                available = (int)Math.Min((long)available + stepSize, input.Length);
            }
        }

        return (status, data.ToString(), position);
    }
}
