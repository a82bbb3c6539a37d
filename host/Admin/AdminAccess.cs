using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Gateway.Host.Admin;

/// <summary>
/// Who may use the admin listener (issue 13): the Host header must name this listener (DNS-rebinding guard), and
/// when a token is configured every request but /healthz and /readyz must prove it — with
/// <c>Authorization: Bearer &lt;token&gt;</c> (scripts, Prometheus, the CLI) or with the page's session cookie.
/// </summary>
/// <remarks>
/// The cookie holds an HMAC of the token, not the token: a copied cookie is as good as the token for this gateway
/// (like any session cookie) but does not reveal it, and it stops working when the token changes. Comparisons
/// run in constant time over SHA-256 digests, so neither the token's content nor its length leaks through timing.
/// </remarks>
internal sealed class AdminAccess
{
    /// <summary>The page's session cookie.</summary>
    public const string CookieName = "gateway_admin";

    /// <summary>How long the page stays signed in on a device: 30 days, in seconds.</summary>
    public const int CookieMaxAgeSeconds = 30 * 24 * 3600;

    private static readonly byte[] CookieLabel = "gateway admin session v1"u8.ToArray();

    private readonly byte[]? _tokenDigest;
    private readonly byte[]? _cookieDigest;
    private readonly string? _cookieValue;
    private readonly HashSet<string> _allowedHosts;
    private readonly IPAddress _listenAddress;

    public AdminAccess(IPAddress listenAddress, string? token, IEnumerable<string> allowedHosts)
    {
        _listenAddress = listenAddress;
        _allowedHosts = new HashSet<string>(allowedHosts, StringComparer.OrdinalIgnoreCase) { "localhost" };
        if (token is not null)
        {
            byte[] tokenBytes = Encoding.UTF8.GetBytes(token);
            _tokenDigest = SHA256.HashData(tokenBytes);
            _cookieValue = Base64Url(HMACSHA256.HashData(tokenBytes, CookieLabel));
            _cookieDigest = SHA256.HashData(Encoding.ASCII.GetBytes(_cookieValue));
        }
    }

    /// <summary>True when a token is configured.</summary>
    public bool RequiresToken => _tokenDigest is not null;

    /// <summary>The cookie value a signed-in page carries (null without a token).</summary>
    public string? CookieValue => _cookieValue;

    /// <summary>
    /// Whether the request's Host names this listener: "localhost", an address literal equal to the listen address
    /// (any address when listening on a wildcard, since names are what DNS rebinding needs), or host.admin.allowedHosts.
    /// A request without a Host (HTTP/1.0) is allowed: browsers always send one.
    /// </summary>
    public bool IsHostAllowed(HostString host)
    {
        if (!host.HasValue)
        {
            return true;
        }

        string name = host.Host;
        if (_allowedHosts.Contains(name) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            // RFC 6761 §6.3: *.localhost always resolves to loopback, so it cannot be re-pointed.
            return true;
        }

        if (!IPAddress.TryParse(name.Trim('[', ']'), out IPAddress? address))
        {
            return false;
        }

        return _listenAddress.Equals(IPAddress.Any) || _listenAddress.Equals(IPAddress.IPv6Any) ||
            address.Equals(_listenAddress) || IPAddress.IsLoopback(address) && IPAddress.IsLoopback(_listenAddress);
    }

    /// <summary>Whether the request carries the token (bearer header) or the session cookie; always true without a token.</summary>
    public bool IsAuthorized(HttpRequest request, out bool byCookie)
    {
        byCookie = false;
        if (_tokenDigest is null)
        {
            return true;
        }

        string? authorization = request.Headers.Authorization;
        if (authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return IsToken(authorization.AsSpan(7).Trim());
        }

        if (request.Cookies.TryGetValue(CookieName, out string? cookie) && cookie is not null)
        {
            byCookie = true;
            return FixedTimeEquals(_cookieDigest!, Encoding.ASCII.GetBytes(cookie));
        }

        return false;
    }

    /// <summary>Whether <paramref name="candidate"/> is the token (constant time).</summary>
    public bool IsToken(ReadOnlySpan<char> candidate)
    {
        if (_tokenDigest is null)
        {
            return false;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(candidate.ToArray());
        return FixedTimeEquals(_tokenDigest, bytes);
    }

    /// <summary>The Set-Cookie value that signs the page in (HttpOnly, SameSite=Strict, 30 days).</summary>
    public string SessionCookieHeader() =>
        $"{CookieName}={_cookieValue}; Path=/; Max-Age={CookieMaxAgeSeconds}; HttpOnly; SameSite=Strict";

    /// <summary>The Set-Cookie value that signs the page out.</summary>
    public static string ClearCookieHeader() => $"{CookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";

    /// <summary>
    /// Cross-site request guard for state-changing requests signed in by cookie: an Origin header, when present,
    /// must be this listener's own origin. SameSite=Strict already keeps the cookie off cross-site requests; this is
    /// the second lock for browsers that ignore it.
    /// </summary>
    public static bool IsSameOrigin(HttpRequest request)
    {
        string? origin = request.Headers.Origin;
        return origin is null || string.Equals(origin, "http://" + request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    private static bool FixedTimeEquals(byte[] expectedDigest, byte[] candidate) =>
        CryptographicOperations.FixedTimeEquals(expectedDigest, SHA256.HashData(candidate));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
