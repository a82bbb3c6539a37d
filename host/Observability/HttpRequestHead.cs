using System.Text;

namespace Gateway.Host.Observability;

/// <summary>
/// Validates an HTTP/1.x request head (RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
/// then field lines "name: value") and extracts what the admin listener routes on.
/// </summary>
internal static class HttpRequestHead
{
    /// <summary>Parses the head (without the body). False for anything malformed: the caller answers 400.</summary>
    public static bool TryParse(ReadOnlySpan<byte> head, out string method, out string path)
    {
        method = "";
        path = "";
        int lineEnd = head.IndexOf((byte)'\n');
        if (lineEnd <= 0)
        {
            return false;
        }

        ReadOnlySpan<byte> requestLine = TrimCr(head[..lineEnd]);
        int firstSpace = requestLine.IndexOf((byte)' ');
        int lastSpace = requestLine.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        {
            return false;
        }

        ReadOnlySpan<byte> methodBytes = requestLine[..firstSpace];
        ReadOnlySpan<byte> target = requestLine[(firstSpace + 1)..lastSpace];
        ReadOnlySpan<byte> version = requestLine[(lastSpace + 1)..];
        if (!IsToken(methodBytes) ||
            !(version.SequenceEqual("HTTP/1.1"u8) || version.SequenceEqual("HTTP/1.0"u8)) ||
            !IsTarget(target) ||
            !HasValidFields(head[(lineEnd + 1)..]))
        {
            return false;
        }

        // Absolute form (RFC 9112 §3.2.2): "http://host:port/path" routes on its path.
        if (target.StartsWith("http://"u8))
        {
            int slash = target[7..].IndexOf((byte)'/');
            target = slash < 0 ? "/"u8 : target[(7 + slash)..];
        }
        else if (target[0] != (byte)'/')
        {
            return false;
        }

        int query = target.IndexOf((byte)'?');
        if (query >= 0)
        {
            target = target[..query];
        }

        method = Encoding.ASCII.GetString(methodBytes);
        path = Encoding.ASCII.GetString(target);
        return true;
    }

    private static bool HasValidFields(ReadOnlySpan<byte> fields)
    {
        while (!fields.IsEmpty)
        {
            int end = fields.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = TrimCr(end < 0 ? fields : fields[..end]);
            fields = end < 0 ? default : fields[(end + 1)..];
            if (line.IsEmpty)
            {
                // The blank line ending the head.
                return true;
            }

            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]) || !IsFieldValue(line[(colon + 1)..]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>RFC 9110 §5.5: field values hold visible characters, spaces, tabs and obs-text, never other controls.</summary>
    private static bool IsFieldValue(ReadOnlySpan<byte> value)
    {
        foreach (byte b in value)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7f)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>RFC 9110 §5.6.2 token characters.</summary>
    private static bool IsToken(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return false;
        }

        foreach (byte b in value)
        {
            bool ok = char.IsAsciiLetterOrDigit((char)b) || "!#$%&'*+-.^_`|~"u8.Contains(b);
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Visible ASCII only: no controls, spaces or bytes above 0x7E.</summary>
    private static bool IsTarget(ReadOnlySpan<byte> target) =>
        !target.IsEmpty && target.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7e) < 0;

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        !line.IsEmpty && line[^1] == (byte)'\r' ? line[..^1] : line;
}
