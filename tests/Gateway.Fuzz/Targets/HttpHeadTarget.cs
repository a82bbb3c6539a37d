using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Wire;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// The HTTP/1.1 head parser (plugins/http-proxy/Wire/HttpHeadParser) on requests, and on responses when the input
/// starts with "HTTP/", so curl requests and origin responses seed it as captured.
/// </summary>
/// <remarks>
/// Invariants, because request smuggling lives in the gap between two parsers (RFC 9112 §11.2): an accepted head
/// has no bare CR or LF; its framing is unambiguous (never Transfer-Encoding with Content-Length, a request's
/// Transfer-Encoding ends in chunked, every Content-Length line carries the one value reported, at most one Host);
/// the field offsets match an independent split of the lines; and the head the proxy forwards (HeadWriter, the
/// origin-form request or the client's response) is accepted again with the same method, status and framing.
/// </remarks>
internal sealed class HttpHeadTarget : IFuzzTarget
{
    private const int MaxFields = 100;

    private readonly HeaderField[] _fields = new HeaderField[MaxFields];
    private readonly HeaderField[] _again = new HeaderField[MaxFields + 8];
    private readonly ArrayBufferWriter<byte> _writer = new(1 << 16);

    public string Name => "http-head";

    public string Description => "HTTP/1.1 request and response heads: unambiguous framing, forwarded head re-parses the same";

    public void Run(ReadOnlySpan<byte> input)
    {
        int end = HttpHeadParser.FindHeadEnd(input, 0);
        if (end < 0)
        {
            return;
        }

        Check(end >= 4 && input[(end - 4)..end].SequenceEqual("\r\n\r\n"u8) && input[..end].IndexOf("\r\n\r\n"u8) == end - 4, "FindHeadEnd is not at the first empty line");
        ReadOnlySpan<byte> head = input[..end];
        if (head.StartsWith("HTTP/"u8))
        {
            RunResponse(head);
        }
        else
        {
            RunRequest(head);
        }
    }

    private void RunRequest(ReadOnlySpan<byte> head)
    {
        if (HttpHeadParser.ParseRequest(head, _fields, out RequestHead request) != HttpParseError.None)
        {
            return;
        }

        ReadOnlySpan<HeaderField> fields = _fields.AsSpan(0, request.Headers.Count);
        CheckHead(head, fields, request.Headers, isRequest: true);
        Check(request.MinorVersion is 0 or 1, "accepted an HTTP version other than 1.0/1.1");
        Check(!request.Headers.HasTransferEncoding || (request.Headers.Chunked && request.MinorVersion == 1),
            "accepted a request whose Transfer-Encoding does not end in chunked, or on HTTP/1.0 (RFC 9112 §6.3)");
        ReadOnlySpan<byte> target = request.Target(head);
        Check(target.IndexOfAnyInRange((byte)0, (byte)0x20) < 0 && target.IndexOf((byte)0x7F) < 0, "accepted whitespace or controls in the request-target");

        if (request.IsConnect || !ProxyTarget.TryParseAbsolute(target, out ProxyTarget proxyTarget))
        {
            return;
        }

        // The request we would send to the origin must frame the body exactly as the client's did.
        _writer.Clear();
        HeadWriter.WriteRequest(_writer, head, request, fields, proxyTarget);
        ReadOnlySpan<byte> forwarded = _writer.WrittenSpan;
        HttpParseError error = HttpHeadParser.ParseRequest(forwarded, _again, out RequestHead again);
        Check(error == HttpParseError.None, $"the forwarded request does not parse ({error}): {Show(forwarded)}");
        Check(again.Method(forwarded).SequenceEqual(request.Method(head)), "the forwarded request changed the method");
        Check(again.Headers.Chunked == request.Headers.Chunked && again.Headers.ContentLength == request.Headers.ContentLength,
            $"the forwarded request frames the body differently (client: chunked={request.Headers.Chunked} length={request.Headers.ContentLength}; " +
            $"origin: chunked={again.Headers.Chunked} length={again.Headers.ContentLength}): {Show(forwarded)}");
        Check(again.Headers.HostIndex >= 0 && _again[again.Headers.HostIndex].Value(forwarded).SequenceEqual(proxyTarget.Authority(target)),
            "the forwarded request's Host is not the target's authority (RFC 9112 §3.2.2)");
        Check(again.IsUpgrade == request.IsUpgrade, "the forwarded request changed whether it upgrades");
    }

    private void RunResponse(ReadOnlySpan<byte> head)
    {
        if (HttpHeadParser.ParseResponse(head, _fields, out ResponseHead response) != HttpParseError.None)
        {
            return;
        }

        ReadOnlySpan<HeaderField> fields = _fields.AsSpan(0, response.Headers.Count);
        CheckHead(head, fields, response.Headers, isRequest: false);
        Check(response.Status is >= 100 and <= 599, "accepted a status outside 100-599");
        Check(!response.Headers.HasTransferEncoding || response.Headers.ContentLength < 0, "a response keeps Content-Length beside Transfer-Encoding (RFC 9112 §6.3 item 3)");

        foreach (bool chunked in (ReadOnlySpan<bool>)[false, true])
        {
            _writer.Clear();
            HeadWriter.WriteResponse(_writer, head, response, fields, chunked, close: !chunked, keepAlive: chunked);
            ReadOnlySpan<byte> forwarded = _writer.WrittenSpan;
            HttpParseError error = HttpHeadParser.ParseResponse(forwarded, _again, out ResponseHead again);
            Check(error == HttpParseError.None, $"the forwarded response does not parse ({error}): {Show(forwarded)}");
            Check(again.Status == response.Status && again.MinorVersion == 1, "the forwarded response changed the status");
            Check(again.Headers.Chunked == chunked, "the forwarded response's framing is not the one the proxy chose");
            Check(chunked || again.Headers.ContentLength == response.Headers.ContentLength, "the forwarded response changed the Content-Length");
        }
    }

    /// <summary>Checks an accepted head against an independent, naive reading of its lines.</summary>
    private static void CheckHead(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, in HeaderSummary summary, bool isRequest)
    {
        for (int i = 0; i < head.Length; i++)
        {
            Check(head[i] != (byte)'\r' || (i + 1 < head.Length && head[i + 1] == (byte)'\n'), "accepted a bare CR");
            Check(head[i] != (byte)'\n' || (i > 0 && head[i - 1] == (byte)'\r'), "accepted a bare LF");
        }

        int lineStart = head.IndexOf("\r\n"u8) + 2;
        int index = 0, hosts = 0;
        bool transferEncoding = false;
        long contentLength = -1;
        while (true)
        {
            int length = head[lineStart..].IndexOf("\r\n"u8);
            if (length == 0)
            {
                break;
            }

            ReadOnlySpan<byte> line = head.Slice(lineStart, length);
            Check(index < fields.Length, "a field line was not reported");
            ref readonly HeaderField field = ref fields[index];
            Check(field.NameStart == lineStart && field.LineEnd == lineStart + length, "field offsets disagree with the lines");
            int colon = line.IndexOf((byte)':');
            Check(colon == field.NameLength && colon > 0, "the field name is not everything before the first colon");
            ReadOnlySpan<byte> name = line[..colon];
            Check(name.IndexOfAny(" \t"u8) < 0, "accepted whitespace in a field name (RFC 9112 §5.1)");
            Check(field.Value(head).SequenceEqual(line[(colon + 1)..].Trim(" \t"u8)), "the value is not the trimmed rest of the line");
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                long value = long.Parse(field.Value(head), provider: System.Globalization.CultureInfo.InvariantCulture);
                Check(contentLength < 0 || contentLength == value, "accepted two different Content-Length values");
                contentLength = value;
            }

            transferEncoding |= Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8);
            hosts += Ascii.EqualsIgnoreCase(name, "Host"u8) ? 1 : 0;
            index++;
            lineStart += length + 2;
        }

        Check(index == summary.Count, "the field count disagrees with the lines");
        Check(transferEncoding == summary.HasTransferEncoding, "Transfer-Encoding presence misreported");
        Check(hosts <= 1, "accepted more than one Host field (RFC 9112 §3.2)");
        if (isRequest)
        {
            Check(!(transferEncoding && contentLength >= 0), "accepted a request with both Transfer-Encoding and Content-Length");
            Check(summary.ContentLength == contentLength, "Content-Length misreported");
        }
        else
        {
            Check(summary.ContentLength == (transferEncoding ? -1 : contentLength), "Content-Length misreported");
        }
    }

    private static string Show(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes).Replace("\r\n", "\\r\\n", StringComparison.Ordinal);
}
