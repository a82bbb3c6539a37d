using System.Text;

namespace Gateway.Tests.HttpProxy.Differential;

/// <summary>
/// Requests for the differential test: well-formed ones of every framing, the classic smuggling shapes (CL.TE,
/// TE.CL, TE.TE obfuscations, obs-fold, bare LF, chunk tricks, pipelining — PortSwigger's and the
/// http-garden/"HTTP Desync" catalogues), and seeded random mutations of all of them.
/// </summary>
internal static class RequestCorpus
{
    private const string Get = "GET http://origin.test/a?b=c HTTP/1.1\r\nHost: origin.test\r\n";

    public static IReadOnlyList<string> Seeds { get; } =
    [
        // Well-formed.
        Get + "\r\n",
        Get + "User-Agent: curl/8\r\nAccept: */*\r\n\r\n",
        "GET http://origin.test:8080 HTTP/1.1\r\nHost: origin.test:8080\r\n\r\n",
        "GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        "GET http://origin.test/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "HEAD http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "POST http://origin.test/upload HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 5\r\n\r\nhello",
        "POST http://origin.test/upload HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 0\r\n\r\n",
        "PUT http://origin.test/upload HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "PUT http://origin.test/u HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1;q=\"a b\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        "PUT http://origin.test/u HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
        "PUT http://origin.test/u HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n",
        "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n\r\n\x16\x03\x01tls bytes",
        "GET http://origin.test/chat HTTP/1.1\r\nHost: origin.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "\r\n" + Get + "\r\n",
        Get + "X-Empty:\r\nX-Spaces:   padded   \r\nX-Tab:\tv\t\r\n\r\n",
        Get + "X-Latin: caf\u00e9\r\n\r\n",
        "OPTIONS http://origin.test/* HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        // Pipelined in one write.
        Get + "\r\n" + Get + "\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3\r\n\r\nabc" + Get + "\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + Get + "\r\n",
        // Framing fields named in Connection (issue #13).
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nConnection: Content-Length\r\nContent-Length: 34\r\n\r\nGET http://origin.test/x HTTP/1.1\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\nConnection: close, transfer-encoding\r\n\r\n0\r\n\r\n",
        Get + "Connection: host\r\n\r\n",
        // CL.TE / TE.CL and Transfer-Encoding obfuscations.
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked \r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.0\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // Content-Length oddities.
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3, 3\r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: +3\r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 0x3\r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 003\r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 3 \r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 99999999999999999999\r\n\r\nabc",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nContent-Length:\r\n\r\n",
        // Chunk framing tricks.
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000000001\r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n1;a\rb\r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"b\r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n 1\r\nx\r\n0\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n0\n\n",
        // Line ends and folding.
        "GET http://origin.test/ HTTP/1.1\nHost: origin.test\n\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX: a\rb\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX: a\r\n b\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n X: a\r\n\r\n",
        "\nGET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        // Request line and field shapes.
        "GET  http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET\thttp://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1 \r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/ HTTP/1.2\r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/ HTTP/2.0\r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/ http/1.1\r\nHost: origin.test\r\n\r\n",
        "get http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "FOO http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/a b HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/a#frag HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET http://user@origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET /relative HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nHost: other.test\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n: empty\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX Y: z\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX: a\0b\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX: a\x7fb\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX: a\x01b\r\n\r\n",
        "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\nX\x7f: a\r\n\r\n",
        "CONNECT origin.test HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\nContent-Length: 5\r\n\r\nhello",
    ];

    /// <summary>The seeds and <paramref name="count"/> random mutations of them (deterministic for a seed).</summary>
    public static IReadOnlyList<byte[]> WithMutations(int count, int seed)
    {
        var random = new Random(seed);
        List<byte[]> inputs = [.. Seeds.Select(Encoding.Latin1.GetBytes)];
        byte[] interesting = "\r\n \t\0:,;=\"\\0aA-+x\x7f\x80\xff"u8.ToArray();
        for (int i = 0; i < count; i++)
        {
            List<byte> bytes = [.. Encoding.Latin1.GetBytes(Seeds[random.Next(Seeds.Count)])];
            int edits = 1 + random.Next(3);
            for (int e = 0; e < edits && bytes.Count > 0; e++)
            {
                int at = random.Next(bytes.Count);
                switch (random.Next(6))
                {
                    case 0:
                        bytes.Insert(at, interesting[random.Next(interesting.Length)]);
                        break;
                    case 1:
                        bytes.RemoveAt(at);
                        break;
                    case 2:
                        bytes[at] = interesting[random.Next(interesting.Length)];
                        break;
                    case 3:
                        // Flip the case of a letter (field names are case-insensitive, methods are not).
                        bytes[at] = (byte)(bytes[at] ^ (char.IsAsciiLetter((char)bytes[at]) ? 0x20 : 0));
                        break;
                    case 4:
                        // Duplicate a whole line.
                        int lineStart = bytes.LastIndexOf((byte)'\n', at) + 1;
                        int lineEnd = bytes.IndexOf((byte)'\n', at);
                        if (lineEnd > lineStart)
                        {
                            bytes.InsertRange(lineEnd + 1, bytes.GetRange(lineStart, lineEnd - lineStart + 1));
                        }

                        break;
                    default:
                        // Insert a smuggling-relevant line after the request line.
                        int first = bytes.IndexOf((byte)'\n') + 1;
                        string[] lines = ["Content-Length: 0\r\n", "Transfer-Encoding: chunked\r\n", "Connection: content-length\r\n", "Content-Length: 5\r\n", "Host: x\r\n"];
                        bytes.InsertRange(first, Encoding.ASCII.GetBytes(lines[random.Next(lines.Length)]));
                        break;
                }
            }

            inputs.Add([.. bytes]);
        }

        return inputs;
    }
}
