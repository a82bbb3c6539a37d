using System.Diagnostics;
using System.Text;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>The published gateway's http-proxy on a <c>listen:</c> socket, shared by the smuggling tests.</summary>
public sealed class SmugglingGatewayFixture : IAsyncLifetime
{
    public GatewayProcess Gateway { get; private set; } = null!;

    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        Port = TestOrigin.FreePort();
        // maxHeaderBytes and timeouts at their defaults: a bare-LF head must be refused at once, not after 30 s.
        Gateway = await GatewayProcess.StartAsync($"http-proxy:\n  listen: [\"127.0.0.1:{Port}\"]\n  cache: {{ enabled: false }}\n");
    }

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>
/// Request smuggling attacks on the published gateway (issue #13), each watched from a raw origin that records
/// every byte it is sent: a refused request must reach no origin at all, and an origin connection that saw part
/// of a refused message must never carry another client's request.
/// </summary>
public sealed class GatewayHttpProxySmugglingTests(SmugglingGatewayFixture fixture) : IClassFixture<SmugglingGatewayFixture>
{
    private const string Smuggled = "GET /smuggled HTTP/1.1\r\nHost: victim\r\n\r\n";

    [Theory]
    // The hole of issue #13: Content-Length dropped as hop-by-hop while the body is relayed by it.
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nConnection: Content-Length\r\nContent-Length: 41\r\n\r\n" + Smuggled, "400")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nConnection: keep-alive, transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n29\r\n" + Smuggled + "\r\n0\r\n\r\n", "400")]
    [InlineData("GET http://{0}/ HTTP/1.1\r\nHost: {0}\r\nConnection: Host\r\n\r\n", "400")]
    // CL.TE and TE.TE shapes.
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nContent-Length: 46\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + Smuggled, "400")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nContent-Length: 46\r\n\r\n0\r\n\r\n" + Smuggled, "400")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "501")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 46\r\n\r\n0\r\n\r\n" + Smuggled, "400")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nTransfer-Encoding : chunked\r\nContent-Length: 46\r\n\r\n0\r\n\r\n" + Smuggled, "400")]
    [InlineData("POST http://{0}/ HTTP/1.0\r\nHost: {0}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400")]
    // Lengths that disagree.
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n" + Smuggled, "400")]
    [InlineData("POST http://{0}/ HTTP/1.1\r\nHost: {0}\r\nContent-Length: 0, 41\r\n\r\n" + Smuggled, "400")]
    // Line ends and duplicated routing fields.
    [InlineData("GET http://{0}/ HTTP/1.1\nHost: {0}\nContent-Length: 41\n\n" + Smuggled, "400")]
    [InlineData("GET http://{0}/ HTTP/1.1\r\nHost: {0}\r\nX: a\rContent-Length: 41\r\n\r\n" + Smuggled, "400")]
    [InlineData("GET http://{0}/ HTTP/1.1\r\nHost: {0}\r\nHost: victim\r\n\r\n", "400")]
    public async Task SmuggledRequest_IsRefused_AndNothingReachesTheOrigin(string attack, string status)
    {
        await using var origin = new RecordingOrigin();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(fixture.Port);
        var clock = Stopwatch.StartNew();

        await client.SendAsync(string.Format(attack, origin.Authority));
        string answer = Encoding.ASCII.GetString(await client.ReadToCloseAsync());

        Assert.StartsWith($"HTTP/1.1 {status} ", answer);
        // Refused at once (a bare-LF head used to wait for the 30 s head timeout).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"answered after {clock.Elapsed}");
        await AssertNextClientServedCleanlyAsync(origin);
        Assert.Equal(["GET /after HTTP/1.1"], origin.Requests.Select(r => r.RequestLine));
        Assert.Equal(1, origin.Connections);
    }

    [Theory]
    [InlineData("fffffffffffffffff1\r\nx\r\n0\r\n\r\n")]
    [InlineData("5;a\rb\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5 ;x=1\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello!\r\n0\r\n\r\n")]
    [InlineData("5\nhello\n0\n\n")]
    [InlineData("5\r\nhello\r\n0\r\nContent-Length: 41\r\n\r\n")]
    public async Task BadChunkedBody_Gets400_AndTheOriginConnectionIsNeverReused(string body)
    {
        await using var origin = new RecordingOrigin();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(fixture.Port);

        // The head goes on before the body is read; the body then turns out not to be delimitable.
        await client.SendAsync($"POST http://{origin.Authority}/upload HTTP/1.1\r\nHost: {origin.Authority}\r\nTransfer-Encoding: chunked\r\n\r\n{body}{Smuggled}");
        string answer = Encoding.ASCII.GetString(await client.ReadToCloseAsync());

        Assert.StartsWith("HTTP/1.1 400 ", answer);
        await AssertNextClientServedCleanlyAsync(origin);
        // Whatever the origin saw of the refused upload, it never saw it end, and the next client's request came on a
        // connection of its own.
        Assert.DoesNotContain(origin.Requests, r => r.RequestLine.StartsWith("POST", StringComparison.Ordinal) || r.RequestLine.Contains("smuggled"));
        Assert.Equal(2, origin.Connections);
    }

    [Fact]
    public async Task PipelinedRequestsInOneWrite_AreAnsweredInOrder_AndReachTheOriginIntact()
    {
        await using var origin = new RecordingOrigin();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(fixture.Port);
        string a = origin.Authority;

        await client.SendAsync(
            $"GET http://{a}/one HTTP/1.1\r\nHost: {a}\r\n\r\n" +
            $"POST http://{a}/two HTTP/1.1\r\nHost: {a}\r\nContent-Length: 5\r\n\r\nhello" +
            $"PUT http://{a}/three HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n" +
            $"GET http://{a}/four HTTP/1.1\r\nHost: {a}\r\n\r\n");

        foreach (string path in new[] { "/one", "/two", "/three", "/four" })
        {
            (string head, string responseBody) = await client.ReadResponseAsync();
            Assert.StartsWith("HTTP/1.1 200 ", head);
            Assert.Equal(path, responseBody);
        }

        Assert.Equal(["GET /one HTTP/1.1", "POST /two HTTP/1.1", "PUT /three HTTP/1.1", "GET /four HTTP/1.1"], origin.Requests.Select(r => r.RequestLine));
        string[] raw = [.. origin.Requests.Select(r => r.Raw)];
        Assert.EndsWith("\r\nContent-Length: 5\r\nVia: 1.1 gateway\r\n\r\nhello", raw[1]);
        Assert.EndsWith("\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n", raw[2]);
        Assert.Equal(1, origin.Connections);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\nX: y\r\n\r\nhello")]
    public async Task OriginWithAmbiguousFraming_Gets502_AndItsConnectionIsNotReused(string response)
    {
        await using var origin = new RecordingOrigin();
        origin.Responses["/bad"] = response;
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(fixture.Port);

        await client.SendAsync($"GET http://{origin.Authority}/bad HTTP/1.1\r\nHost: {origin.Authority}\r\n\r\n");
        string answer = Encoding.ASCII.GetString(await client.ReadToCloseAsync());

        Assert.StartsWith("HTTP/1.1 502 ", answer);
        await AssertNextClientServedCleanlyAsync(origin);
        Assert.Equal(2, origin.Connections);
    }

    [Fact]
    public async Task OriginWithTransferEncodingAndContentLength_ReadByTransferEncoding_ThenItsConnectionIsClosed()
    {
        await using var origin = new RecordingOrigin();
        // RFC 9112 §6.3: Transfer-Encoding wins; Content-Length: 3 would cut the body short and leave "lo\r\n0..."
        // on the connection for the next client to read as its response.
        origin.Responses["/both"] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(fixture.Port);

        await client.SendAsync($"GET http://{origin.Authority}/both HTTP/1.1\r\nHost: {origin.Authority}\r\nConnection: close\r\n\r\n");
        string answer = Encoding.ASCII.GetString(await client.ReadToCloseAsync());

        Assert.StartsWith("HTTP/1.1 200 ", answer);
        Assert.DoesNotContain("Content-Length", answer, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("\r\n\r\n5\r\nhello\r\n0\r\n\r\n", answer);
        await AssertNextClientServedCleanlyAsync(origin);
        Assert.Equal(2, origin.Connections);
    }

    /// <summary>Another client's plain request gets its own answer, and the gateway is still up.</summary>
    private async Task AssertNextClientServedCleanlyAsync(RecordingOrigin origin)
    {
        using RawHttpConnection next = await RawHttpConnection.ConnectAsync(fixture.Port);
        await next.SendAsync($"GET http://{origin.Authority}/after HTTP/1.1\r\nHost: {origin.Authority}\r\n\r\n");
        (string head, string body) = await next.ReadResponseAsync();

        Assert.StartsWith("HTTP/1.1 200 ", head);
        Assert.Equal("/after", body);
        Assert.False(fixture.Gateway.HasExited);
    }
}
