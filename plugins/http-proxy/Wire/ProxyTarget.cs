using System.Buffers;
using System.Text;

namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>
/// Where a proxied request goes: the absolute-form (RFC 9112 §3.2.2) or authority-form (§3.2.3)
/// request-target split into offsets, without copying.
/// </summary>
internal struct ProxyTarget
{
    // RFC 3986 §3.2.2 reg-name (unreserved / sub-delims / pct-encoded) plus ':' for IPv6 literals.
    private static readonly SearchValues<byte> s_hostChars = SearchValues.Create(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;="u8);

    // RFC 3986 §3.2.2 IPv6address inside brackets: hex digits, ':' and the dots of an embedded IPv4 address.
    private static readonly SearchValues<byte> s_ipv6Chars = SearchValues.Create("0123456789abcdefABCDEF:."u8);

    /// <summary>Offset of the authority (host[:port]) in the target: the Host field sent to the origin.</summary>
    public int AuthorityStart;

    /// <summary>Length of the authority.</summary>
    public int AuthorityLength;

    /// <summary>Offset of the host, without IPv6 brackets.</summary>
    public int HostStart;

    /// <summary>Length of the host.</summary>
    public int HostLength;

    /// <summary>The port (80 when an http URI gives none, RFC 9110 §4.2.1).</summary>
    public int Port;

    /// <summary>Offset of the path-and-query (origin-form), or -1 when empty (then "/" is sent, RFC 9112 §3.2.1).</summary>
    public int PathStart;

    public readonly ReadOnlySpan<byte> Host(ReadOnlySpan<byte> target) => target.Slice(HostStart, HostLength);

    public readonly ReadOnlySpan<byte> Authority(ReadOnlySpan<byte> target) => target.Slice(AuthorityStart, AuthorityLength);

    /// <summary>Parses "http://authority[/path][?query]". https and other schemes are refused: use CONNECT for TLS.</summary>
    public static bool TryParseAbsolute(ReadOnlySpan<byte> target, out ProxyTarget result)
    {
        result = default;
        const int SchemeLength = 7;
        if (target.Length <= SchemeLength || !Ascii.EqualsIgnoreCase(target[..SchemeLength], "http://"u8))
        {
            return false;
        }

        ReadOnlySpan<byte> rest = target[SchemeLength..];
        int end = rest.IndexOfAny((byte)'/', (byte)'?');
        if (end < 0)
        {
            end = rest.Length;
        }

        // RFC 9112 §3.2: no fragment in a request-target.
        if (target.IndexOf((byte)'#') >= 0 || !TryParseAuthority(rest[..end], SchemeLength, 80, ref result))
        {
            return false;
        }

        result.PathStart = end == rest.Length ? -1 : SchemeLength + end;
        return true;
    }

    /// <summary>Parses a CONNECT target "host:port" (RFC 9110 §9.3.6: the port is required).</summary>
    public static bool TryParseConnect(ReadOnlySpan<byte> target, out ProxyTarget result)
    {
        result = default;
        result.PathStart = -1;
        return TryParseAuthority(target, 0, -1, ref result);
    }

    private static bool TryParseAuthority(ReadOnlySpan<byte> authority, int offset, int defaultPort, ref ProxyTarget result)
    {
        if (authority.IsEmpty || authority.IndexOf((byte)'@') >= 0)
        {
            // userinfo in a proxied URI is deprecated and a phishing vector (RFC 9110 §4.2.4).
            return false;
        }

        int hostStart, hostEnd, portStart;
        if (authority[0] == (byte)'[')
        {
            int close = authority.IndexOf((byte)']');
            if (close < 2)
            {
                return false;
            }

            hostStart = 1;
            hostEnd = close;
            portStart = close + 1;
            if (portStart < authority.Length && authority[portStart] != (byte)':')
            {
                return false;
            }
        }
        else
        {
            int colon = authority.IndexOf((byte)':');
            hostStart = 0;
            hostEnd = colon < 0 ? authority.Length : colon;
            portStart = hostEnd;
            if (authority[hostStart..hostEnd].IndexOf((byte)':') >= 0)
            {
                return false;
            }
        }

        ReadOnlySpan<byte> host = authority[hostStart..hostEnd];
        if (host.IsEmpty || host.IndexOfAnyExcept(authority[0] == (byte)'[' ? s_ipv6Chars : s_hostChars) >= 0)
        {
            return false;
        }

        int port = defaultPort;
        if (portStart < authority.Length)
        {
            ReadOnlySpan<byte> digits = authority[(portStart + 1)..];
            if (digits.IsEmpty || digits.Length > 5 || digits.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
            {
                return false;
            }

            port = 0;
            foreach (byte b in digits)
            {
                port = (port * 10) + (b - '0');
            }
        }

        if (port is < 1 or > 65535)
        {
            return false;
        }

        result.AuthorityStart = offset;
        result.AuthorityLength = authority.Length;
        result.HostStart = offset + hostStart;
        result.HostLength = hostEnd - hostStart;
        result.Port = port;
        return true;
    }
}
