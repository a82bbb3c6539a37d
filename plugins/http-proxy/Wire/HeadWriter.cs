using System.Buffers;
using System.Text;

namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>
/// Writes the heads a proxy forwards: origin-form requests towards the origin, responses towards the
/// client, each without hop-by-hop fields (RFC 9110 §7.6.1) and with our Via (RFC 9110 §7.6.3).
/// </summary>
internal static class HeadWriter
{
    /// <summary>The Via field line this proxy adds; "gateway" is the received-by pseudonym.</summary>
    public static ReadOnlySpan<byte> ViaLine => "Via: 1.1 gateway\r\n"u8;

    /// <summary>The only Connection option forwarded, on both hops of a protocol switch (RFC 9110 §7.8).</summary>
    private static ReadOnlySpan<byte> ConnectionUpgradeLine => "Connection: upgrade\r\n"u8;

    /// <summary>
    /// Writes the request towards the origin in origin-form (RFC 9112 §3.2.1, §3.2.2). An upgrade request
    /// (<see cref="RequestHead.IsUpgrade"/>) keeps its Upgrade field and gets "Connection: upgrade" (RFC 9110 §7.8).
    /// </summary>
    /// <param name="extraFields">Field lines added by the proxy itself (a cache's validators), each ending in CRLF.</param>
    public static void WriteRequest(IBufferWriter<byte> writer, ReadOnlySpan<byte> head, in RequestHead request, ReadOnlySpan<HeaderField> fields, in ProxyTarget target,
        ReadOnlySpan<byte> extraFields = default)
    {
        ReadOnlySpan<byte> requestTarget = request.Target(head);
        writer.Write(request.Method(head));
        writer.Write(" "u8);
        if (target.PathStart < 0)
        {
            writer.Write("/"u8);
        }
        else if (requestTarget[target.PathStart] == (byte)'?')
        {
            // "http://host?q" has an empty path: origin-form is "/?q".
            writer.Write("/"u8);
            writer.Write(requestTarget[target.PathStart..]);
        }
        else
        {
            writer.Write(requestTarget[target.PathStart..]);
        }

        writer.Write(" HTTP/1.1\r\nHost: "u8);
        // RFC 9112 §3.2.2: a proxy replaces the received Host with the target URI's authority.
        writer.Write(target.Authority(requestTarget));
        writer.Write("\r\n"u8);
        bool upgrade = request.IsUpgrade;
        WriteEndToEndFields(writer, head, fields, skipHost: true, contentLength: request.Headers.Chunked ? -1 : request.Headers.ContentLength, keepUpgrade: upgrade);
        if (request.Headers.Chunked)
        {
            writer.Write("Transfer-Encoding: chunked\r\n"u8);
        }

        if (upgrade)
        {
            writer.Write(ConnectionUpgradeLine);
        }

        writer.Write(extraFields);
        writer.Write(ViaLine);
        writer.Write("\r\n"u8);
    }

    /// <summary>
    /// Writes a request staged by <see cref="WriteRequest"/> (origin-form, Host first) for a parent proxy: the target in
    /// absolute-form, "http://" + the Host value + the path (RFC 9112 §3.2.2), and <paramref name="extraField"/> (a
    /// whole "Proxy-Authorization: ...\r\n" line, or empty) before the blank line.
    /// </summary>
    public static void WriteAbsoluteForm(IBufferWriter<byte> writer, ReadOnlySpan<byte> staged, ReadOnlySpan<byte> extraField)
    {
        int methodEnd = staged.IndexOf((byte)' ');
        int lineEnd = staged.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> fields = staged[(lineEnd + 2)..];
        int hostEnd = fields.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> authority = fields["Host: ".Length..hostEnd];
        writer.Write(staged[..(methodEnd + 1)]);
        writer.Write("http://"u8);
        writer.Write(authority);
        // The staged head ends with the blank line: the extra field goes before it.
        writer.Write(staged[(methodEnd + 1)..^2]);
        writer.Write(extraField);
        writer.Write("\r\n"u8);
    }

    /// <summary>Writes the response towards the client with our own HTTP version (RFC 9110 §6.2).</summary>
    /// <param name="upgrade">
    /// A 101 (Switching Protocols) to an upgrade request: its Upgrade field is kept and "Connection: upgrade"
    /// written (RFC 9110 §7.8), instead of <paramref name="close"/> / <paramref name="keepAlive"/>.
    /// </param>
    public static void WriteResponse(IBufferWriter<byte> writer, ReadOnlySpan<byte> head, in ResponseHead response, ReadOnlySpan<HeaderField> fields, bool chunked, bool close, bool keepAlive,
        bool upgrade = false)
    {
        writer.Write("HTTP/1.1 "u8);
        writer.Write(head[response.StatusStart..response.StatusLineEnd]);
        // RFC 9112 §4: the SP after the status code is required even when the reason phrase is empty.
        writer.Write(response.StatusLineEnd - response.StatusStart == 3 ? " \r\n"u8 : "\r\n"u8);
        // RFC 9112 §6.3 item 3: with Transfer-Encoding, Content-Length is ignored and must not be forwarded (the
        // parser set it to -1 then).
        // Codings besides chunked (gzip, chunked) stay on the body as relayed, so the client must see them all.
        // (Only when the body goes on framed as it came: a decoded body is delimited by close and carries none.)
        bool otherCodings = response.Headers.HasTransferEncoding && !response.Headers.OnlyChunked && chunked == response.Headers.Chunked;
        WriteEndToEndFields(writer, head, fields, skipHost: false, contentLength: response.Headers.ContentLength, keepUpgrade: upgrade, keepTransferEncoding: otherCodings);
        if (chunked && !otherCodings)
        {
            writer.Write("Transfer-Encoding: chunked\r\n"u8);
        }

        if (upgrade)
        {
            writer.Write(ConnectionUpgradeLine);
        }
        else if (close)
        {
            writer.Write("Connection: close\r\n"u8);
        }
        else if (keepAlive)
        {
            writer.Write("Connection: keep-alive\r\n"u8);
        }

        writer.Write(ViaLine);
        writer.Write("\r\n"u8);
    }

    /// <summary>Writes a complete short response generated by the proxy itself; it always closes the connection.</summary>
    /// <param name="extraHeader">One more header line, CRLF-terminated (Proxy-Authenticate for a 407), or null.</param>
    public static void WriteStatus(IBufferWriter<byte> writer, int status, string reason, string message, string? extraHeader = null)
    {
        Span<byte> body = stackalloc byte[512];
        int bodyLength = Encoding.ASCII.GetBytes(message.AsSpan(0, Math.Min(message.Length, 510)), body);
        body[bodyLength++] = (byte)'\n';
        writer.Write("HTTP/1.1 "u8);
        WriteNumber(writer, status);
        writer.Write(" "u8);
        Span<byte> reasonBytes = stackalloc byte[64];
        writer.Write(reasonBytes[..Encoding.ASCII.GetBytes(reason.AsSpan(0, Math.Min(reason.Length, 64)), reasonBytes)]);
        writer.Write("\r\nContent-Type: text/plain\r\nContent-Length: "u8);
        WriteNumber(writer, bodyLength);
        writer.Write("\r\nConnection: close\r\n"u8);
        if (extraHeader is not null)
        {
            writer.Write(Encoding.ASCII.GetBytes(extraHeader));
        }

        writer.Write(ViaLine);
        writer.Write("\r\n"u8);
        writer.Write(body[..bodyLength]);
    }

    /// <summary>
    /// True for fields that apply to one connection only: the fixed hop-by-hop set and every field
    /// named in a Connection field (RFC 9110 §7.6.1).
    /// </summary>
    /// <param name="keepUpgrade">
    /// The message switches protocols on both hops: Upgrade is passed on, even though Connection names it.
    /// </param>
    public static bool IsHopByHop(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, in HeaderField field, bool keepUpgrade = false)
    {
        if (keepUpgrade && field.Known == KnownHeader.Upgrade)
        {
            return false;
        }

        switch (field.Known)
        {
            case KnownHeader.Connection:
            case KnownHeader.KeepAlive:
            case KnownHeader.ProxyConnection:
            case KnownHeader.ProxyAuthorization:
            case KnownHeader.Te:
            case KnownHeader.Trailer:
            case KnownHeader.TransferEncoding:
            case KnownHeader.Upgrade:
                return true;
        }

        ReadOnlySpan<byte> name = field.Name(head);
        foreach (ref readonly HeaderField candidate in fields)
        {
            if (candidate.Known != KnownHeader.Connection)
            {
                continue;
            }

            ReadOnlySpan<byte> value = candidate.Value(head);
            foreach (Range token in new TokenEnumerator(value))
            {
                if (Ascii.EqualsIgnoreCase(value[token], name))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static void WriteNumber(IBufferWriter<byte> writer, long value)
    {
        Span<byte> digits = writer.GetSpan(20);
        value.TryFormat(digits, out int written);
        writer.Advance(written);
    }

    /// <param name="contentLength">
    /// The length the message is relayed by, or -1 for none. Content-Length goes out once, as this number, where the
    /// first received line was: repeated lines and leading zeros are never passed on for the next hop to read its
    /// own way (RFC 9110 §8.6).
    /// </param>
    /// <param name="keepTransferEncoding">Pass Transfer-Encoding lines on as received (a response with codings besides chunked).</param>
    private static void WriteEndToEndFields(IBufferWriter<byte> writer, ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, bool skipHost, long contentLength,
        bool keepUpgrade = false, bool keepTransferEncoding = false)
    {
        foreach (ref readonly HeaderField field in fields)
        {
            if (field.Known == KnownHeader.ContentLength)
            {
                if (contentLength >= 0)
                {
                    writer.Write("Content-Length: "u8);
                    WriteNumber(writer, contentLength);
                    writer.Write("\r\n"u8);
                    contentLength = -1;
                }

                continue;
            }

            if ((skipHost && field.Known == KnownHeader.Host) ||
                (IsHopByHop(head, fields, field, keepUpgrade) && !(keepTransferEncoding && field.Known == KnownHeader.TransferEncoding)))
            {
                continue;
            }

            writer.Write(field.Line(head));
            writer.Write("\r\n"u8);
        }
    }
}
