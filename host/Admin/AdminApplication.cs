using System.Text;
using Gateway.Host.Api;
using Gateway.Host.Dashboard;
using Gateway.Host.Observability;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Admin;

/// <summary>
/// What the admin listener answers, as Kestrel's application: the Host check and the token first (issue 13), then
/// /healthz, /readyz and /metrics (byte for byte as before Kestrel), the JSON API under /api/v1/ and the console
/// page at /. A plain switch on the path, not ASP.NET routing: a handful of fixed paths do not need the routing
/// and DI machinery, and the listener stays small in memory (issue 21).
/// </summary>
internal sealed class AdminApplication : IHttpApplication<HttpContext>
{
    private const string GetHead = "GET, HEAD";
    private static readonly TimeSpan UnauthorizedLogInterval = TimeSpan.FromMinutes(1);

    private readonly MetricsCollector _metrics;
    private readonly Func<bool> _isReady;
    private readonly AdminAccess _access;
    private readonly AdminApi? _api;
    private readonly DashboardPage _page;
    private readonly ILogger _logger;
    private long _nextUnauthorizedLog;
    private int _unauthorizedCount;

    public AdminApplication(MetricsCollector metrics, Func<bool> isReady, AdminAccess access, AdminApi? api, ILogger logger)
    {
        _metrics = metrics;
        _isReady = isReady;
        _access = access;
        _api = api;
        _logger = logger;
        _page = new DashboardPage(access);
    }

    public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

    public void DisposeContext(HttpContext context, Exception? exception) => ((DefaultHttpContext)context).Uninitialize();

    public async Task ProcessRequestAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "/";
        try
        {
            await AnswerAsync(context, path).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            AdminLog.HandlerFailed(_logger, context.Request.Method, path, ex.Message);
            context.Response.Clear();
            await AdminResponses.TextAsync(context, 500, "internal error").ConfigureAwait(false);
        }
    }

    private Task AnswerAsync(HttpContext context, string path)
    {
        HttpRequest request = context.Request;
        bool read = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);

        // Liveness and readiness stay open to probes that carry neither a token nor a name (kubelet, systemd, load
        // balancers); they tell nothing but "up" and "ready".
        switch (path)
        {
            case "/healthz":
                return read ? AdminResponses.TextAsync(context, 200, "ok") : AdminResponses.MethodNotAllowedAsync(context, GetHead, json: false);
            case "/readyz":
                return !read ? AdminResponses.MethodNotAllowedAsync(context, GetHead, json: false)
                    : IsReady() ? AdminResponses.TextAsync(context, 200, "ready") : AdminResponses.TextAsync(context, 503, "starting");
        }

        bool isApi = path.StartsWith("/api/", StringComparison.Ordinal);
        if (!_access.IsHostAllowed(request.Host))
        {
            AdminLog.HostRefused(_logger, context.Connection.RemoteIpAddress?.ToString() ?? "?", request.Host.Value ?? string.Empty);
            return isApi
                ? AdminResponses.ErrorAsync(context, 421, "this admin listener does not serve the host name in the request; use its address or localhost, or add the name to host.admin.allowedHosts")
                : AdminResponses.TextAsync(context, 421, "misdirected request: this admin listener does not serve that host name; use its address or localhost, or add the name to host.admin.allowedHosts");
        }

        // The page's sign-in comes before the token check: it is how a browser gets the cookie.
        if (path is "/" or "/login" or "/logout" && _page.TryAnswerSignIn(context, path) is { } signIn)
        {
            return signIn;
        }

        if (!_access.IsAuthorized(request, out bool byCookie))
        {
            ReportUnauthorized(context, path);
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"gateway\"";
            if (path == "/" && read)
            {
                return _page.SignInPageAsync(context, 401, wrongToken: request.Cookies.ContainsKey(AdminAccess.CookieName));
            }

            return isApi
                ? AdminResponses.ErrorAsync(context, 401, "a token is required: send Authorization: Bearer <host.admin.token>")
                : AdminResponses.TextAsync(context, 401, "unauthorized: send Authorization: Bearer <host.admin.token>");
        }

        if (byCookie && !read && !AdminAccess.IsSameOrigin(request))
        {
            return AdminResponses.ErrorAsync(context, 403, "cross-origin request refused");
        }

        if (path == "/metrics")
        {
            return read ? MetricsAsync(context) : AdminResponses.MethodNotAllowedAsync(context, GetHead, json: false);
        }

        if (isApi || path == "/api")
        {
            return _api is not null ? _api.AnswerAsync(context, path) : AdminResponses.ErrorAsync(context, 404, "the JSON API is not available here");
        }

        return _page.TryAnswerAsset(context, path) ?? AdminResponses.TextAsync(context, 404, "not found; try /metrics, /healthz or /readyz");
    }

    private Task MetricsAsync(HttpContext context) =>
        AdminResponses.WriteAsync(context, 200, PrometheusFormatter.ContentType, Encoding.UTF8.GetBytes(PrometheusFormatter.Format(_metrics.Snapshot())));

    private bool IsReady()
    {
        try
        {
            return _isReady();
        }
        catch (Exception)
        {
            // A readiness check that throws is not ready; /readyz answers 503.
            return false;
        }
    }

    /// <summary>Logs refused requests at most once a minute (a scanner must not flood the log), with the count since.</summary>
    private void ReportUnauthorized(HttpContext context, string path)
    {
        int count = Interlocked.Increment(ref _unauthorizedCount);
        long now = Environment.TickCount64;
        long next = Interlocked.Read(ref _nextUnauthorizedLog);
        if (now >= next && Interlocked.CompareExchange(ref _nextUnauthorizedLog, now + (long)UnauthorizedLogInterval.TotalMilliseconds, next) == next)
        {
            Interlocked.Add(ref _unauthorizedCount, -count);
            AdminLog.Unauthorized(_logger, count, context.Connection.RemoteIpAddress?.ToString() ?? "?", path);
        }
    }
}
