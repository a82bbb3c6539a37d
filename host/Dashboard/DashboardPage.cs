using System.Collections.Concurrent;
using System.IO.Compression;
using System.Security.Cryptography;
using Gateway.Host.Admin;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Gateway.Host.Dashboard;

/// <summary>
/// The console page at <c>/</c> and its assets (<c>/assets/...</c>), embedded in the host assembly
/// (Dashboard/wwwroot; no CDN), and the sign-in that turns the admin token into the page's cookie:
/// <c>/?token=…</c> once, or the token typed into the sign-in form (<c>POST /login</c>).
/// </summary>
internal sealed class DashboardPage
{
    private const string ResourcePrefix = "console/";

    // The page loads only its own scripts and styles and talks only to this listener; no frames may hold it.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".txt"] = "text/plain; charset=utf-8",
    };

    private readonly AdminAccess _access;
    private readonly ConcurrentDictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    public DashboardPage(AdminAccess access)
    {
        _access = access;
    }

    /// <summary>
    /// Sign-in and sign-out: <c>GET /?token=…</c> and <c>POST /login</c> set the cookie and redirect to <c>/</c> (so the
    /// token leaves the address bar and the history); <c>POST /logout</c> clears it. Null when the request is none of these.
    /// </summary>
    public Task? TryAnswerSignIn(HttpContext context, string path)
    {
        HttpRequest request = context.Request;
        if (path == "/" && HttpMethods.IsGet(request.Method) && request.Query.TryGetValue("token", out var queryToken))
        {
            return SignInAsync(context, queryToken.ToString());
        }

        if (path == "/login" && HttpMethods.IsPost(request.Method))
        {
            return SignInFormAsync(context);
        }

        if (path == "/logout" && HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.SetCookie = AdminAccess.ClearCookieHeader();
            return RedirectHomeAsync(context);
        }

        return null;
    }

    /// <summary>The sign-in form (401 without a valid cookie).</summary>
    public Task SignInPageAsync(HttpContext context, int status, bool wrongToken)
    {
        Asset page = Find("signin.html")!;
        byte[] body = wrongToken
            ? System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(page.Bytes).Replace("<p id=\"wrong\" hidden>", "<p id=\"wrong\">", StringComparison.Ordinal))
            : page.Bytes;
        SetPageHeaders(context.Response);
        return AdminResponses.WriteAsync(context, status, page.ContentType, body);
    }

    /// <summary>The page (<c>/</c>) or an asset; null when <paramref name="path"/> is neither.</summary>
    public Task? TryAnswerAsset(HttpContext context, string path)
    {
        string? name = path == "/" ? "index.html" : path.StartsWith("/assets/", StringComparison.Ordinal) ? path["/assets/".Length..] : null;
        if (name is null || Find(name) is not { } asset)
        {
            return null;
        }

        HttpRequest request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            return AdminResponses.MethodNotAllowedAsync(context, "GET, HEAD", json: false);
        }

        HttpResponse response = context.Response;
        SetPageHeaders(response);
        if (request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            response.Headers.ETag = asset.ETag;
            response.Headers.CacheControl = "no-cache";
            response.StatusCode = 304;
            return Task.CompletedTask;
        }

        // Headers first: the body write below starts the response.
        bool gzip = request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase);
        if (gzip)
        {
            response.Headers.ContentEncoding = "gzip";
        }

        response.Headers.Vary = HeaderNames.AcceptEncoding;
        response.Headers.ETag = asset.ETag;
        return AdminResponses.WriteAsync(context, 200, asset.ContentType, gzip ? asset.Gzip : asset.Bytes, cacheControl: "no-cache");
    }

    private async Task SignInFormAsync(HttpContext context)
    {
        string token = string.Empty;
        if (context.Request.HasFormContentType && context.Request.ContentLength is null or <= 4096)
        {
            IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
            token = form["token"].ToString();
        }

        await SignInAsync(context, token).ConfigureAwait(false);
    }

    private Task SignInAsync(HttpContext context, string token)
    {
        if (!_access.RequiresToken)
        {
            return RedirectHomeAsync(context);
        }

        if (!_access.IsToken(token.Trim()))
        {
            return SignInPageAsync(context, 401, wrongToken: true);
        }

        context.Response.Headers.SetCookie = _access.SessionCookieHeader();
        return RedirectHomeAsync(context);
    }

    private static Task RedirectHomeAsync(HttpContext context)
    {
        // 303: the browser follows with a GET, and the form or the token in the query is not sent again.
        context.Response.Headers.Location = "/";
        return AdminResponses.TextAsync(context, 303, "see /");
    }

    private static void SetPageHeaders(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XFrameOptions = "DENY";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }

    /// <summary>The embedded asset; only found ones are cached, so probing random names costs no memory.</summary>
    private Asset? Find(string name)
    {
        if (_assets.TryGetValue(name, out Asset? cached))
        {
            return cached;
        }

        Asset? asset = Load(name);
        return asset is null ? null : _assets.GetOrAdd(name, asset);
    }

    private static Asset? Load(string name)
    {
        if (name.Contains("..", StringComparison.Ordinal))
        {
            return null;
        }

        using Stream? stream = typeof(DashboardPage).Assembly.GetManifestResourceStream(ResourcePrefix + name);
        if (stream is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        byte[] bytes = copy.ToArray();
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(bytes);
        }

        string type = ContentTypes.GetValueOrDefault(Path.GetExtension(name), "application/octet-stream");
        string etag = "\"" + Convert.ToHexString(SHA256.HashData(bytes), 0, 8) + "\"";
        return new Asset(bytes, compressed.ToArray(), type, etag);
    }

    private sealed record Asset(byte[] Bytes, byte[] Gzip, string ContentType, string ETag);
}
