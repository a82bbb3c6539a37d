using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using Gateway.Host.Admin;
using Gateway.Host.Configuration;
using Gateway.Host.Observability;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Admin;

/// <summary>Issue 13's admin listener: the token, the page's cookie, the DNS-rebinding guard; and HTTP/2 and graceful stop.</summary>
public sealed class AdminAccessTests : IAsyncLifetime
{
    private const string Token = "s3cret-token-for-tests-0123456789";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly MetricsCollector _collector = new(NullLogger.Instance);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }) { Timeout = Generous };
    private AdminServer _server = null!;

    public async Task InitializeAsync()
    {
        var options = new AdminOptions { Listen = new NetEndpoint(NetAddress.Parse("127.0.0.1"), 0), Token = Token, AllowedHosts = ["gateway.example.test"] };
        _server = new AdminServer(options, _collector, () => true, NullLoggerFactory.Instance);
        await _server.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
        _collector.Dispose();
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task Probes_WithoutToken_Return200(string path)
    {
        using HttpResponseMessage response = await _http.GetAsync(Url(path));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/api/v1/status")]
    [InlineData("/assets/app.css")]
    [InlineData("/nothing-here")]
    public async Task Everything_WithoutToken_Returns401WithBearerChallenge(string path)
    {
        using HttpResponseMessage response = await _http.GetAsync(Url(path));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task Metrics_WithBearerToken_Returns200()
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, "/metrics", bearer: Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
    }

    [Theory]
    [InlineData("wrong")]
    [InlineData(Token + "x")]
    [InlineData("s3cret-token-for-tests-012345678")]
    public async Task Metrics_WithWrongToken_Returns401(string token)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, "/metrics", bearer: token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Page_WithoutToken_ShowsSignInForm()
    {
        using HttpResponseMessage response = await _http.GetAsync(Url("/"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("<form method=\"post\" action=\"/login\">", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Page_TokenInQuery_SetsStrictHttpOnlyCookieAndRedirects()
    {
        using HttpResponseMessage signIn = await _http.GetAsync(Url("/?token=" + Uri.EscapeDataString(Token)));

        Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        Assert.Equal("/", signIn.Headers.Location!.OriginalString);
        string cookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.Contains("HttpOnly", cookie);
        Assert.Contains("SameSite=Strict", cookie);
        Assert.DoesNotContain(Token, cookie);

        using HttpResponseMessage page = await SendAsync(HttpMethod.Get, "/", cookie: cookie.Split(';')[0]);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using HttpResponseMessage metrics = await SendAsync(HttpMethod.Get, "/metrics", cookie: cookie.Split(';')[0]);
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Fact]
    public async Task Login_FormWithToken_SetsCookie_WrongTokenSays401()
    {
        using HttpResponseMessage good = await _http.PostAsync(Url("/login"), new FormUrlEncodedContent([new("token", Token)]));
        using HttpResponseMessage bad = await _http.PostAsync(Url("/login"), new FormUrlEncodedContent([new("token", "nope")]));

        Assert.Equal(HttpStatusCode.SeeOther, good.StatusCode);
        Assert.StartsWith(AdminAccess.CookieName + "=", Assert.Single(good.Headers.GetValues("Set-Cookie")));
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        Assert.False(bad.Headers.Contains("Set-Cookie"));
        Assert.Contains("That token is not right", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Cookie_Forged_Returns401()
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, "/metrics", cookie: AdminAccess.CookieName + "=" + Token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("evil.example.test")]
    [InlineData("attacker.test:8080")]
    [InlineData("10.1.2.3")]
    public async Task Request_ForOtherHostName_Returns421EvenWithToken(string host)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, "/metrics", bearer: Token, host: host);

        Assert.Equal((HttpStatusCode)421, response.StatusCode);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST:9090")]
    [InlineData("app.localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.2:1234")]
    [InlineData("gateway.example.test")]
    public async Task Request_ForListenAddressLocalhostOrAllowedName_IsServed(string host)
    {
        using HttpResponseMessage response = await SendAsync(HttpMethod.Get, "/metrics", bearer: Token, host: host);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Post_WithCookieFromOtherOrigin_Returns403()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url("/api/v1/config/reload"));
        request.Headers.Add("Cookie", new AdminAccess(IPAddress.Loopback, Token, []).SessionCookieHeader().Split(';')[0]);
        request.Headers.Add("Origin", "http://evil.example.test");

        using HttpResponseMessage response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Http2PriorKnowledge_OnTheSamePort_IsServedOverHttp2()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("/healthz"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using HttpResponseMessage response = await _http.SendAsync(request);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Http2_MetricsWithToken_Returns200AndText()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url("/metrics")) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);

        using HttpResponseMessage response = await _http.SendAsync(request);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
    }

    [Fact]
    public async Task StopAsync_RequestInFlight_FinishesBeforeTheListenerCloses()
    {
        // An observable gauge whose callback takes a while keeps a /metrics request in flight while the listener stops.
        using var meter = new Meter("Gateway.Tests.Admin.Slow." + Guid.NewGuid().ToString("N"));
        using var entered = new SemaphoreSlim(0);
        meter.CreateObservableGauge("slow_gauge", () =>
        {
            entered.Release();
            Thread.Sleep(500);
            return 1;
        });
        Task<HttpResponseMessage> inFlight = SendAsync(HttpMethod.Get, "/metrics", bearer: Token);
        Assert.True(await entered.WaitAsync(Generous));

        await _server.StopAsync(CancellationToken.None);

        using HttpResponseMessage response = await inFlight;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("slow_gauge", await response.Content.ReadAsStringAsync());
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => _http.GetAsync(Url("/healthz")));
    }

    private Uri Url(string path) => new($"http://{_server.LocalEndpoint}{path}");

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? bearer = null, string? cookie = null, string? host = null)
    {
        var request = new HttpRequestMessage(method, Url(path));
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        return _http.SendAsync(request);
    }
}
