using System.Buffers;
using System.Text;

namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>
/// Parses HTTP/1.1 request and response heads (RFC 9112 §2-§6) on spans, without allocating.
/// Hand-written: the BCL has no public HTTP/1.1 head parser (Kestrel's is internal to ASP.NET Core).
/// </summary>
/// <remarks>
/// The input is the whole head including the empty line that ends it. The parser is strict where
/// leniency enables request smuggling (RFC 9112 §11.2): whitespace before a field colon, obs-fold,
/// bare CR, conflicting Content-Length, and Transfer-Encoding with Content-Length are all rejected.
/// </remarks>
internal static class HttpHeadParser
{
    // RFC 9110 §5.6.2 tchar.
    private static readonly SearchValues<byte> s_tchar = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>Finds the end of a head: the offset just past the CRLF CRLF, or -1 when not yet complete.</summary>
    public static int FindHeadEnd(ReadOnlySpan<byte> buffer, int searchFrom)
    {
        int start = Math.Max(0, searchFrom - 3);
        int index = buffer[start..].IndexOf("\r\n\r\n"u8);
        return index < 0 ? -1 : start + index + 4;
    }

    /// <summary>Parses a request head (RFC 9112 §3).</summary>
    public static HttpParseError ParseRequest(ReadOnlySpan<byte> head, Span<HeaderField> fields, out RequestHead request)
    {
        HttpParseError error = ParseRequestCore(head, fields, out request);
        // A bare CR or LF fails the syntax checks wherever it is; say so plainly (looked for only on failure, so a
        // good head is not scanned twice).
        return error is HttpParseError.Malformed or HttpParseError.MalformedField && HasBareLineBreak(head) ? HttpParseError.BareLineBreak : error;
    }

    private static HttpParseError ParseRequestCore(ReadOnlySpan<byte> head, Span<HeaderField> fields, out RequestHead request)
    {
        request = default;
        int lineEnd = head.IndexOf("\r\n"u8);
        if (lineEnd <= 0)
        {
            return HttpParseError.Malformed;
        }

        ReadOnlySpan<byte> line = head[..lineEnd];
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0 || line[..sp1].IndexOfAnyExcept(s_tchar) >= 0)
        {
            return HttpParseError.Malformed;
        }

        int sp2 = line.LastIndexOf((byte)' ');
        if (sp2 <= sp1 + 1)
        {
            return HttpParseError.Malformed;
        }

        ReadOnlySpan<byte> target = line[(sp1 + 1)..sp2];
        // RFC 9112 §3.2: the target has no whitespace or control characters; RFC 3986: a URI is ASCII (a client
        // percent-encodes the rest), so a byte above 0x7F is refused rather than passed on for an origin to read
        // its own way.
        foreach (byte b in target)
        {
            if (b <= 0x20 || b >= 0x7F)
            {
                return HttpParseError.Malformed;
            }
        }

        HttpParseError versionError = ParseVersion(line[(sp2 + 1)..], out int minor);
        if (versionError != HttpParseError.None)
        {
            return versionError;
        }

        request.MethodLength = sp1;
        request.TargetStart = sp1 + 1;
        request.TargetLength = target.Length;
        request.MinorVersion = minor;
        request.IsConnect = line[..sp1].SequenceEqual("CONNECT"u8);
        request.IsHead = line[..sp1].SequenceEqual("HEAD"u8);

        HttpParseError error = ParseFields(head, lineEnd + 2, fields, out request.Headers);
        if (error != HttpParseError.None)
        {
            return error;
        }

        if (request.Headers.ConnectionNamesFramingField)
        {
            return HttpParseError.FramingFieldInConnection;
        }

        if (request.Headers.HasTransferEncoding)
        {
            // RFC 9112 §6.3 item 3-4: a request whose final coding is not chunked cannot be framed (400); with
            // Content-Length as well, or in HTTP/1.0 (§6.1), it is a smuggling vector: refused too.
            if (minor == 0)
            {
                return HttpParseError.TransferEncodingInHttp10;
            }

            if (request.Headers.ContentLength >= 0)
            {
                return HttpParseError.ConflictingLength;
            }

            if (!request.Headers.Chunked)
            {
                return HttpParseError.ChunkedNotFinal;
            }

            // RFC 9112 §7: chunked is applied once. Any other coding (gzip, chunked) would have to be decoded or
            // forwarded as a list the origin may not know; §6.1 lets a server answer 501, and squid does the same.
            if (request.Headers.ChunkedCodings > 1)
            {
                return HttpParseError.ChunkedTwice;
            }

            if (!request.Headers.OnlyChunked)
            {
                return HttpParseError.UnsupportedTransferCoding;
            }
        }

        return HttpParseError.None;
    }

    /// <summary>Parses a response head (RFC 9112 §4).</summary>
    public static HttpParseError ParseResponse(ReadOnlySpan<byte> head, Span<HeaderField> fields, out ResponseHead response)
    {
        response = default;
        int lineEnd = head.IndexOf("\r\n"u8);
        // "HTTP/1.1 200" at least.
        if (lineEnd < 12 || head[8] != (byte)' ')
        {
            return HttpParseError.Malformed;
        }

        HttpParseError versionError = ParseVersion(head[..8], out int minor);
        if (versionError != HttpParseError.None)
        {
            return versionError;
        }

        int d0 = head[9] - '0', d1 = head[10] - '0', d2 = head[11] - '0';
        if ((uint)d0 > 9 || (uint)d1 > 9 || (uint)d2 > 9 || d0 < 1 || d0 > 5 || (lineEnd > 12 && head[12] != (byte)' '))
        {
            return HttpParseError.Malformed;
        }

        // RFC 9112 §4: reason-phrase = *( HTAB / SP / VCHAR / obs-text ). It is forwarded as received, so a bare
        // CR or LF in it would end the status line early for the client: response splitting (found by fuzzing).
        foreach (byte b in head[12..lineEnd])
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
            {
                return HttpParseError.Malformed;
            }
        }

        response.Status = (d0 * 100) + (d1 * 10) + d2;
        response.MinorVersion = minor;
        response.StatusStart = 9;
        response.StatusLineEnd = lineEnd;
        HttpParseError error = ParseFields(head, lineEnd + 2, fields, out response.Headers);
        if (error != HttpParseError.None)
        {
            return error;
        }

        if (response.Headers.ConnectionNamesFramingField)
        {
            return HttpParseError.FramingFieldInConnection;
        }

        if (response.Headers.HasTransferEncoding)
        {
            // RFC 9112 §7: chunked, when present, is applied once and last; anything else cannot be delimited.
            if (response.Headers.TransferCodings == 0 || response.Headers.ChunkedCodings > 1 || (response.Headers.ChunkedCodings == 1 && !response.Headers.Chunked))
            {
                return HttpParseError.ChunkedTwice;
            }

            // RFC 9112 §6.3 item 3: Transfer-Encoding overrides Content-Length; forwarding both would let
            // the next hop choose differently, so drop the length (and close the origin connection after it:
            // ResponseHead.FaultyFraming).
            response.Headers.ContentLength = -1;
        }

        return HttpParseError.None;
    }

    private static HttpParseError ParseVersion(ReadOnlySpan<byte> version, out int minor)
    {
        minor = 0;
        if (version.Length != 8 || !version.StartsWith("HTTP/"u8) || version[6] != (byte)'.')
        {
            return HttpParseError.Malformed;
        }

        if ((uint)(version[5] - '0') > 9 || (uint)(version[7] - '0') > 9)
        {
            return HttpParseError.Malformed;
        }

        if (version[5] != (byte)'1')
        {
            return HttpParseError.UnsupportedVersion;
        }

        // RFC 9110 §2.5: a higher minor version of a major version we implement is processed as the highest we
        // implement (HTTP/1.2 as HTTP/1.1).
        minor = version[7] == (byte)'0' ? 0 : 1;
        return HttpParseError.None;
    }

    private static HttpParseError ParseFields(ReadOnlySpan<byte> head, int position, Span<HeaderField> fields, out HeaderSummary summary)
    {
        summary = default;
        summary.ContentLength = -1;
        summary.HostIndex = -1;
        int count = 0;
        while (true)
        {
            int relEnd = head[position..].IndexOf("\r\n"u8);
            if (relEnd < 0)
            {
                return HttpParseError.Malformed;
            }

            if (relEnd == 0)
            {
                break;
            }

            if (count == fields.Length)
            {
                return HttpParseError.TooManyHeaders;
            }

            int lineEnd = position + relEnd;
            ReadOnlySpan<byte> line = head[position..lineEnd];
            if (line[0] is (byte)' ' or (byte)'\t')
            {
                // RFC 9112 §5.2: obs-fold; a proxy must refuse it or replace it, and replacing means guessing.
                return HttpParseError.ObsFold;
            }

            int colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                return HttpParseError.MalformedField;
            }

            int badName = line[..colon].IndexOfAnyExcept(s_tchar);
            if (badName >= 0)
            {
                // RFC 9112 §5.1: no whitespace between name and colon (a 400 is required).
                return line[..colon].TrimEnd(" \t"u8).IndexOfAnyExcept(s_tchar) < 0 ? HttpParseError.WhitespaceBeforeColon : HttpParseError.MalformedField;
            }

            ReadOnlySpan<byte> rawValue = line[(colon + 1)..];
            int valueOffset = colon + 1;
            int lead = rawValue.IndexOfAnyExcept((byte)' ', (byte)'\t');
            if (lead < 0)
            {
                lead = rawValue.Length;
            }

            ReadOnlySpan<byte> value = rawValue[lead..].TrimEnd(" \t"u8);
            // RFC 9110 §5.5: no CR, LF or NUL in field values.
            foreach (byte b in value)
            {
                if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
                {
                    return HttpParseError.MalformedField;
                }
            }

            ref HeaderField field = ref fields[count];
            field.NameStart = position;
            field.NameLength = colon;
            field.ValueStart = position + valueOffset + lead;
            field.ValueLength = value.Length;
            field.LineEnd = lineEnd;
            field.Known = Classify(line[..colon]);
            HttpParseError error = Interpret(ref summary, field.Known, value, count);
            if (error != HttpParseError.None)
            {
                return error;
            }

            count++;
            position = lineEnd + 2;
        }

        summary.Count = count;
        return HttpParseError.None;
    }

    private static HttpParseError Interpret(ref HeaderSummary summary, KnownHeader known, ReadOnlySpan<byte> value, int index)
    {
        switch (known)
        {
            case KnownHeader.ContentLength:
                // RFC 9110 §8.6: 1*DIGIT; repeated fields must agree.
                if (value.IsEmpty || value.Length > 18 || value.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
                {
                    return HttpParseError.BadContentLength;
                }

                long length = 0;
                foreach (byte b in value)
                {
                    length = (length * 10) + (b - '0');
                }

                if (summary.ContentLength >= 0 && summary.ContentLength != length)
                {
                    return HttpParseError.ConflictingLength;
                }

                summary.ContentLength = length;
                summary.ContentLengthLines++;
                break;
            case KnownHeader.TransferEncoding:
                summary.HasTransferEncoding = true;
                // The final coding decides (RFC 9112 §6.3 item 4); a later field line continues the list, so a
                // coding split over two lines ("gzip" then "chunked") is read as one list.
                foreach (Range token in new TokenEnumerator(value))
                {
                    bool chunked = Ascii.EqualsIgnoreCase(value[token], "chunked"u8);
                    summary.TransferCodings++;
                    summary.ChunkedCodings += chunked ? 1 : 0;
                    summary.Chunked = chunked;
                }

                break;
            case KnownHeader.Connection:
                foreach (Range token in new TokenEnumerator(value))
                {
                    ReadOnlySpan<byte> t = value[token];
                    if (Ascii.EqualsIgnoreCase(t, "close"u8))
                    {
                        summary.ConnectionClose = true;
                    }
                    else if (Ascii.EqualsIgnoreCase(t, "keep-alive"u8))
                    {
                        summary.ConnectionKeepAlive = true;
                    }
                    else if (Ascii.EqualsIgnoreCase(t, "upgrade"u8))
                    {
                        summary.ConnectionUpgrade = true;
                    }
                    else if (Classify(t) is KnownHeader.ContentLength or KnownHeader.TransferEncoding or KnownHeader.Host)
                    {
                        summary.ConnectionNamesFramingField = true;
                    }
                }

                break;
            case KnownHeader.Upgrade:
                summary.HasUpgrade |= !value.IsEmpty;
                break;
            case KnownHeader.Expect:
                summary.ExpectContinue |= Ascii.EqualsIgnoreCase(value, "100-continue"u8);
                break;
            case KnownHeader.Host:
                if (summary.HostIndex >= 0)
                {
                    // RFC 9112 §3.2: more than one Host field line is a 400.
                    return HttpParseError.DuplicateHost;
                }

                summary.HostIndex = index;
                break;
        }

        return HttpParseError.None;
    }

    /// <summary>
    /// True when <paramref name="buffer"/> (a head still being received) has a line break other than CRLF: a LF
    /// without its CR, or a CR followed by anything but LF. RFC 9112 §2.2 lets a recipient accept a bare LF, but
    /// a proxy that guesses disagrees with some next hop about where lines end, so such a head is refused at
    /// once instead of waiting for a CRLF CRLF that never comes.
    /// </summary>
    public static bool HasBareLineBreak(ReadOnlySpan<byte> buffer)
    {
        int position = 0;
        while (true)
        {
            int index = buffer[position..].IndexOfAny((byte)'\r', (byte)'\n');
            if (index < 0)
            {
                return false;
            }

            index += position;
            if (buffer[index] == (byte)'\n')
            {
                return true;
            }

            if (index + 1 == buffer.Length)
            {
                // A CR at the very end: its LF may be in the next read.
                return false;
            }

            if (buffer[index + 1] != (byte)'\n')
            {
                return true;
            }

            position = index + 2;
        }
    }

    /// <summary>Classifies a field name; only the names a proxy acts on are recognised.</summary>
    public static KnownHeader Classify(ReadOnlySpan<byte> name)
    {
        switch (name.Length)
        {
            case 2 when Ascii.EqualsIgnoreCase(name, "TE"u8):
                return KnownHeader.Te;
            case 4 when Ascii.EqualsIgnoreCase(name, "Host"u8):
                return KnownHeader.Host;
            case 6 when Ascii.EqualsIgnoreCase(name, "Expect"u8):
                return KnownHeader.Expect;
            case 7 when Ascii.EqualsIgnoreCase(name, "Upgrade"u8):
                return KnownHeader.Upgrade;
            case 7 when Ascii.EqualsIgnoreCase(name, "Trailer"u8):
                return KnownHeader.Trailer;
            case 10 when Ascii.EqualsIgnoreCase(name, "Connection"u8):
                return KnownHeader.Connection;
            case 10 when Ascii.EqualsIgnoreCase(name, "Keep-Alive"u8):
                return KnownHeader.KeepAlive;
            case 14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8):
                return KnownHeader.ContentLength;
            case 16 when Ascii.EqualsIgnoreCase(name, "Proxy-Connection"u8):
                return KnownHeader.ProxyConnection;
            case 17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8):
                return KnownHeader.TransferEncoding;
            case 19 when Ascii.EqualsIgnoreCase(name, "Proxy-Authorization"u8):
                return KnownHeader.ProxyAuthorization;
            default:
                return KnownHeader.None;
        }
    }
}
