using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Host.Admin;
using Gateway.Host.Configuration;
using Gateway.Host.Observability;
using Gateway.Sdk.Networking;
using Gateway.Tests.Host.Observability;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Admin;

/// <summary>
/// The admin listener without a token, as before Kestrel: /healthz, /readyz and /metrics byte for byte, bad requests
/// answered with an error status, the listener's own limits. (AdminAccessTests: token and Host checks.)
/// </summary>
public sealed class AdminServerTests : IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private readonly MetricsCollector _collector = new(NullLogger.Instance);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = Generous };
    private bool _ready;
    private AdminServer _server = null!;

    private Uri Url(string path) => new($"http://{_server.LocalEndpoint}{path}");

    public async Task InitializeAsync()
    {
        _server = new AdminServer(new AdminOptions { Listen = new NetEndpoint(NetAddress.Parse("127.0.0.1"), 0) }, _collector, () => _ready, NullLoggerFactory.Instance);
        await _server.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _http.Dispose();
        _collector.Dispose();
    }

    [Fact]
    public async Task Healthz_WhileRunning_Returns200Ok()
    {
        using HttpResponseMessage response = await _http.GetAsync(Url("/healthz"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Readyz_NotReadyThenReady_Returns503Then200()
    {
        using HttpResponseMessage starting = await _http.GetAsync(Url("/readyz"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, starting.StatusCode);
        Assert.Equal("starting", await starting.Content.ReadAsStringAsync());

        _ready = true;

        using HttpResponseMessage ready = await _http.GetAsync(Url("/readyz"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_TestCounter_AppearsInPrometheusText()
    {
        string instrument = "obs_admin_test_" + Guid.NewGuid().ToString("N");
        using var meter = new Meter("Gateway.Tests.Observability." + Guid.NewGuid().ToString("N"));
        meter.CreateCounter<long>(instrument, unit: "By").Add(1234, new KeyValuePair<string, object?>("dir", "rx"));

        using HttpResponseMessage response = await _http.GetAsync(Url("/metrics?name[]=x"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        PrometheusText text = PrometheusText.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("counter", text.Types[instrument + "_bytes_total"]);
        Assert.Equal(1234, text.Value(instrument + "_bytes_total", ("dir", "rx")));
    }

    [Fact]
    public async Task Page_GzipAccepted_IsCompressedAndRevalidatesWithETag()
    {
        using HttpResponseMessage plain = await _http.GetAsync(Url("/assets/app.js"));
        using var gzipRequest = new HttpRequestMessage(HttpMethod.Get, Url("/assets/app.js"));
        gzipRequest.Headers.AcceptEncoding.ParseAdd("gzip");
        using HttpResponseMessage compressed = await _http.SendAsync(gzipRequest);

        Assert.Equal("text/javascript; charset=utf-8", plain.Content.Headers.ContentType!.ToString());
        Assert.Equal(["gzip"], compressed.Content.Headers.ContentEncoding);
        using var unzip = new System.IO.Compression.GZipStream(await compressed.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress);
        Assert.Equal(await plain.Content.ReadAsStringAsync(), await new StreamReader(unzip).ReadToEndAsync());

        using var again = new HttpRequestMessage(HttpMethod.Get, Url("/assets/app.js"));
        again.Headers.IfNoneMatch.Add(plain.Headers.ETag!);
        using HttpResponseMessage notModified = await _http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task Page_Root_IsTheConsoleWithContentSecurityPolicy()
    {
        using HttpResponseMessage response = await _http.GetAsync(Url("/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<script src=\"/assets/app.js\" defer></script>", await response.Content.ReadAsStringAsync());
        Assert.StartsWith("default-src 'none'; script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task UnknownPath_Returns404()
    {
        using HttpResponseMessage response = await _http.GetAsync(Url("/admin"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Post_Returns405WithAllow()
    {
        using HttpResponseMessage response = await _http.PostAsync(Url("/metrics"), new StringContent("x"));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Contains("GET", response.Content.Headers.Allow);
    }

    [Fact]
    public async Task Head_Healthz_Returns200WithoutBody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, Url("/healthz"));
        using HttpResponseMessage response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("\u0001\u0002garbage\r\n\r\n", 400)]
    [InlineData("GET /healthz\r\n\r\n", 400)]
    // Kestrel reads a target without '/' as authority-form, which only CONNECT may use.
    [InlineData("GET healthz HTTP/1.1\r\n\r\n", 405)]
    [InlineData("GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400)]
    [InlineData("GET /heal thz HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400)]
    [InlineData("GET /healthz HTTP/2.0\r\n\r\n", 505)]
    public async Task MalformedRequest_ReturnsErrorStatus(string request, int status)
    {
        string response = await RawAsync(Encoding.Latin1.GetBytes(request), closeSend: false);

        Assert.StartsWith($"HTTP/1.1 {status} ", response);
    }

    [Fact]
    public async Task OversizedHead_Returns431()
    {
        string request = "GET /healthz HTTP/1.1\r\nX-Big: " + new string('a', AdminServer.MaxRequestHeadBytes) + "\r\n\r\n";

        string response = await RawAsync(Encoding.ASCII.GetBytes(request), closeSend: false);

        Assert.StartsWith("HTTP/1.1 431 ", response);
    }

    [Fact]
    public async Task RawHttp10Request_IsAnsweredAndClosed()
    {
        string response = await RawAsync("GET /healthz HTTP/1.0\r\n\r\n"u8.ToArray(), closeSend: false);

        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response);
        Assert.Contains("Connection: close\r\n", response);
        Assert.EndsWith("\r\n\r\nok", response);
    }

    [Fact]
    public async Task ClientsThatSendNothing_DoNotStopOthersBeingServed()
    {
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(_server.LocalEndpoint.ToIPEndPoint());
                idle.Add(socket);
            }

            using HttpResponseMessage response = await _http.GetAsync(Url("/healthz"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task StartAsync_PortInUse_ThrowsNamingTheEndpoint()
    {
        await using var second = new AdminServer(new AdminOptions { Listen = _server.LocalEndpoint }, _collector, () => true, NullLoggerFactory.Instance);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync(CancellationToken.None));

        Assert.Contains(_server.LocalEndpoint.ToString(), error.Message);
    }

    [Fact]
    public async Task StopAsync_ThenConnect_IsRefused()
    {
        NetEndpoint endpoint = _server.LocalEndpoint;

        await _server.StopAsync(CancellationToken.None);

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(async () => await socket.ConnectAsync(endpoint.ToIPEndPoint()));
    }

    /// <summary>Sends raw bytes and reads the whole answer until the server closes.</summary>
    private async Task<string> RawAsync(byte[] request, bool closeSend)
    {
        using var timeout = new CancellationTokenSource(Generous);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.LocalEndpoint.ToIPEndPoint(), timeout.Token);
        await socket.SendAsync(request, SocketFlags.None, timeout.Token);
        if (closeSend)
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException) when (received.Length > 0)
        {
            // The server closed with unread request bytes (an oversized head): the answer already arrived.
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }
}
