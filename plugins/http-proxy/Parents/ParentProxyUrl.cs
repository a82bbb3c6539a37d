using System.Text;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Parents;

/// <summary>How a parent proxy is spoken to.</summary>
internal enum ParentProtocol
{
    /// <summary>An HTTP proxy: absolute-form requests for http://, CONNECT for tunnels (RFC 9110 §9.3.6).</summary>
    Http,

    /// <summary>A SOCKS5 proxy (RFC 1928 CONNECT, RFC 1929 username/password when given).</summary>
    Socks5,
}

/// <summary>
/// A parent proxy's URL as written in <c>parents[].proxy</c>: <c>http://[user:pass@]host:port</c> or
/// <c>socks5://[user:pass@]host:port</c>. <see cref="ToString"/> leaves the credentials out, so it is what logs,
/// metrics and errors show.
/// </summary>
internal sealed class ParentProxyUrl
{
    private ParentProxyUrl(ParentProtocol protocol, HostPort endpoint, string? user, string? password)
    {
        Protocol = protocol;
        Endpoint = endpoint;
        User = user;
        Password = password;
    }

    public ParentProtocol Protocol { get; }

    /// <summary>The parent's host (a name or an IP literal) and port.</summary>
    public HostPort Endpoint { get; }

    /// <summary>The user name, or null when the URL carries no credentials.</summary>
    public string? User { get; }

    /// <summary>The password (empty when only a user is given), or null without credentials. Never logged.</summary>
    public string? Password { get; }

    /// <summary>"http://host:port" or "socks5://host:port", without credentials.</summary>
    public override string ToString() => $"{(Protocol == ParentProtocol.Http ? "http" : "socks5")}://{Endpoint}";

    /// <summary>
    /// Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong without repeating a
    /// password (<see cref="Redact"/> is what an error may quote).
    /// </summary>
    public static bool TryParse(string text, out ParentProxyUrl? url, out string error)
    {
        url = null;
        string trimmed = text.Trim();
        int schemeEnd = trimmed.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            error = "must be http://host:port or socks5://host:port";
            return false;
        }

        ParentProtocol protocol;
        switch (trimmed[..schemeEnd].ToLowerInvariant())
        {
            case "http":
                protocol = ParentProtocol.Http;
                break;
            case "socks5":
            case "socks5h":
                // socks5h is curl's spelling of "the proxy resolves names", which is what this always does.
                protocol = ParentProtocol.Socks5;
                break;
            default:
                error = $"scheme '{trimmed[..schemeEnd]}' is not supported: use http:// or socks5:// (https:// parents are not)";
                return false;
        }

        string authority = trimmed[(schemeEnd + 3)..];
        if (authority.EndsWith('/'))
        {
            authority = authority[..^1];
        }

        if (authority.IndexOfAny(['/', '?', '#']) >= 0)
        {
            error = "must be scheme://host:port without a path";
            return false;
        }

        string? user = null;
        string? password = null;
        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            string userInfo = authority[..at];
            authority = authority[(at + 1)..];
            int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            // Percent-decoding (RFC 3986 §2.1); a '%' not followed by two hex digits stays as written.
            user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            password = colon < 0 ? string.Empty : Uri.UnescapeDataString(userInfo[(colon + 1)..]);

            if (user.Length == 0)
            {
                error = "the user name is empty (write user:password@host:port)";
                return false;
            }

            // RFC 1929 §2: ULEN and PLEN are one byte each; Basic (RFC 7617 §2) forbids ':' in the user id.
            if (protocol == ParentProtocol.Socks5 && (Encoding.UTF8.GetByteCount(user) > 255 || Encoding.UTF8.GetByteCount(password) > 255))
            {
                error = "SOCKS5 user names and passwords are at most 255 bytes (RFC 1929)";
                return false;
            }

            if (user.AsSpan().IndexOfAny(":\r\n") >= 0 || password.AsSpan().IndexOfAny("\r\n") >= 0)
            {
                error = "the user name may not contain ':' and neither part a line break";
                return false;
            }
        }

        if (!HostPort.TryParse(authority, out HostPort endpoint))
        {
            error = $"'{authority}' is not host:port (the port is required; IPv6 as [addr]:port)";
            return false;
        }

        url = new ParentProxyUrl(protocol, endpoint, user, password);
        error = string.Empty;
        return true;
    }

    /// <summary><paramref name="text"/> with the password (between the user's ':' and '@') replaced by "***".</summary>
    public static string Redact(string text)
    {
        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        int start = schemeEnd < 0 ? 0 : schemeEnd + 3;
        int at = text.LastIndexOf('@');
        if (at < start)
        {
            return text;
        }

        int colon = text.IndexOf(':', start, at - start);
        return colon < 0 ? text : string.Concat(text.AsSpan(0, colon + 1), "***", text.AsSpan(at));
    }
}
