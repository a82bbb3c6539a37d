using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy.Differential;

/// <summary>
/// The proxy's own reading of one request, step for step as <c>ClientSession</c> does it on a connection: empty
/// lines skipped, the head found (a bare line break refused at once), parsed, its target read, then the body
/// delimited by Content-Length or the chunked parser (a CONNECT ends at its head: the rest is tunnel data).
/// </summary>
internal static class ProxyRequestReader
{
    public static ParseOutcome Read(byte[] input, int maxHeaderBytes = 32 * 1024, int maxHeaderCount = 100)
    {
        int start = 0;
        while (input.Length - start >= 2 && input[start] == (byte)'\r' && input[start + 1] == (byte)'\n')
        {
            start += 2;
        }

        ReadOnlySpan<byte> rest = input.AsSpan(start);
        int end = HttpHeadParser.FindHeadEnd(rest, 0);
        if (end < 0)
        {
            if (HttpHeadParser.HasBareLineBreak(rest))
            {
                return Rejected("bare line break");
            }

            return rest.Length >= maxHeaderBytes ? Rejected("head too large") : new ParseOutcome { Outcome = "incomplete" };
        }

        if (end > maxHeaderBytes)
        {
            return Rejected("head too large");
        }

        ReadOnlySpan<byte> head = rest[..end];
        var fields = new HeaderField[maxHeaderCount];
        HttpParseError error = HttpHeadParser.ParseRequest(head, fields, out RequestHead request);
        if (error != HttpParseError.None)
        {
            int lineEnd = head.IndexOf("\r\n"u8);
            bool spaces = error == HttpParseError.Malformed && lineEnd > 0 && (head[..lineEnd].IndexOf("  "u8) >= 0 || head[..lineEnd].IndexOf((byte)'\t') >= 0);
            bool http09 = error == HttpParseError.Malformed && lineEnd > 0 && head[..lineEnd].Count((byte)' ') == 1;
            return Rejected(spaces ? "request line with extra whitespace" : http09 ? "no HTTP version" : error.ToString());
        }

        ReadOnlySpan<byte> target = request.Target(head);
        bool targetOk = request.IsConnect ? ProxyTarget.TryParseConnect(target, out _) : ProxyTarget.TryParseAbsolute(target, out _);
        if (!targetOk)
        {
            return Rejected(request.IsConnect ? "CONNECT target not host:port" : "target not an absolute http URI");
        }

        List<(string, string)> headers = [];
        for (int i = 0; i < request.Headers.Count; i++)
        {
            headers.Add((Latin1(fields[i].Name(head)), Latin1(fields[i].Value(head))));
        }

        ParseOutcome parsed = new()
        {
            Outcome = "complete",
            Method = Encoding.ASCII.GetString(request.Method(head)),
            Url = Latin1(target),
            Minor = request.MinorVersion,
            Headers = headers,
        };
        int bodyStart = start + end;
        if (request.IsConnect || !request.HasBody)
        {
            return parsed with { Consumed = bodyStart };
        }

        if (!request.Headers.Chunked)
        {
            long length = request.Headers.ContentLength;
            return input.Length - bodyStart < length
                ? parsed with { Outcome = "forwarding", Body = input.AsSpan(bodyStart).ToArray() }
                : parsed with { Body = input.AsSpan(bodyStart, (int)length).ToArray(), Consumed = bodyStart + (int)length };
        }

        ChunkedBodyParser chunked = default;
        var body = new List<byte>();
        int position = bodyStart;
        while (true)
        {
            ChunkStatus status = chunked.Advance(input.AsSpan(position), out int consumed, out int offset, out int dataLength);
            body.AddRange(input.AsSpan(position + offset, dataLength).ToArray());
            position += consumed;
            switch (status)
            {
                case ChunkStatus.Invalid:
                    return Rejected("chunked: " + chunked.Error);
                case ChunkStatus.Done:
                    return parsed with { Body = [.. body], Consumed = position };
                case ChunkStatus.NeedMore when position == input.Length:
                    return parsed with { Outcome = "forwarding", Body = [.. body] };
            }
        }
    }

    private static ParseOutcome Rejected(string why) => new() { Outcome = "rejected", Error = why };

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
}
