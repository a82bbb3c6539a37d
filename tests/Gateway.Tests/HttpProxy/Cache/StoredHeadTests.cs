using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy.Cache;

public sealed class StoredHeadTests
{
    [Fact]
    public void Write_KeepsEndToEndFields_DropsHopByHopAgeAndFraming()
    {
        byte[] head = Encoding.ASCII.GetBytes(
            "HTTP/1.0 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n" +
            "Age: 30\r\nContent-Length: 5\r\nETag: \"v\"\r\n\r\n");
        var fields = new HeaderField[16];
        HttpHeadParser.ParseResponse(head, fields, out ResponseHead response);
        var writer = new ArrayBufferWriter<byte>();

        StoredHead.Write(writer, head, response, fields.AsSpan(0, response.Headers.Count));

        Assert.Equal("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nETag: \"v\"\r\n", Encoding.ASCII.GetString(writer.WrittenSpan));
    }

    [Fact]
    public void Merge_304Fields_ReplaceStoredOnes_ContentLengthKept()
    {
        // RFC 9111 §3.2: the stored fields are updated with those of the 304.
        byte[] stored = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nCache-Control: max-age=60\r\nETag: \"v\"\r\nContent-Length: 5\r\n\r\n");
        byte[] update = Encoding.ASCII.GetBytes("HTTP/1.1 304 Not Modified\r\nDate: Sun, 06 Nov 1994 09:00:00 GMT\r\nCache-Control: max-age=120\r\nContent-Length: 0\r\nX-New: 1\r\n\r\n");
        var storedFields = new HeaderField[16];
        var updateFields = new HeaderField[16];
        HttpHeadParser.ParseResponse(stored, storedFields, out ResponseHead storedHead);
        HttpHeadParser.ParseResponse(update, updateFields, out ResponseHead updateHead);
        var writer = new ArrayBufferWriter<byte>();

        StoredHead.Merge(writer, stored, storedFields.AsSpan(0, storedHead.Headers.Count), update, updateFields.AsSpan(0, updateHead.Headers.Count));

        Assert.Equal(
            "HTTP/1.1 200 OK\r\nETag: \"v\"\r\nContent-Length: 5\r\nDate: Sun, 06 Nov 1994 09:00:00 GMT\r\nCache-Control: max-age=120\r\nX-New: 1\r\n",
            Encoding.ASCII.GetString(writer.WrittenSpan));
    }
}
