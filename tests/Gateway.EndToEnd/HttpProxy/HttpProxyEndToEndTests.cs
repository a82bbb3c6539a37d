using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// The proxy's stream handler on a real loopback listener, driven by curl against local origins
/// (an HttpListener origin, python3 http.server, openssl s_server for CONNECT).
/// </summary>
public sealed class HttpProxyEndToEndTests : IAsyncLifetime
{
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(90);
    private readonly string _work = Directory.CreateTempSubdirectory("http-proxy-e2e-").FullName;
    private TestOrigin _origin = null!;

    public Task InitializeAsync()
    {
        _origin = new TestOrigin();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1024)]
    [InlineData(10 * 1024 * 1024)]
    public async Task Get_ContentLengthBody_ArrivesIntact(int length)
    {
        await using var proxy = new ProxyHarness();
        string file = Path.Combine(_work, "get.bin");

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", file, "-w", "%{http_code}", $"{_origin.Url}/bytes/{length}");

        Assert.Equal("200", result.StdOut);
        Assert.Equal(Sha256(TestOrigin.Payload(length)), Sha256(await File.ReadAllBytesAsync(file)));
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(10 * 1024 * 1024)]
    public async Task Get_ChunkedBody_ArrivesIntact(int length)
    {
        await using var proxy = new ProxyHarness();
        string file = Path.Combine(_work, "chunked.bin");

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", file, "-w", "%{http_code}", $"{_origin.Url}/chunked/{length}");

        Assert.Equal("200", result.StdOut);
        Assert.Equal(Sha256(TestOrigin.Payload(length)), Sha256(await File.ReadAllBytesAsync(file)));
    }

    [Theory]
    [InlineData("POST", 0, false)]
    [InlineData("POST", 1024, false)]
    [InlineData("PUT", 10 * 1024 * 1024, false)]
    [InlineData("POST", 1024, true)]
    [InlineData("PUT", 10 * 1024 * 1024, true)]
    public async Task Upload_Body_ReachesOriginIntact(string method, int length, bool chunked)
    {
        await using var proxy = new ProxyHarness();
        string file = Path.Combine(_work, "upload.bin");
        byte[] body = TestOrigin.Payload(length + 1)[..length];
        await File.WriteAllBytesAsync(file, body);
        List<string> args = ["-x", proxy.ProxyUrl, "-X", method, "--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream"];
        if (chunked)
        {
            args.AddRange(["-H", "Transfer-Encoding: chunked"]);
        }

        args.Add($"{_origin.Url}/sha256");
        CommandResult result = await CurlAsync([.. args]);

        Assert.Equal(Sha256(body), result.StdOut);
    }

    [Fact]
    public async Task Upload_WithExpectContinue_ReachesOriginIntact()
    {
        await using var proxy = new ProxyHarness();
        string file = Path.Combine(_work, "expect.bin");
        byte[] body = TestOrigin.Payload(2 * 1024 * 1024);
        await File.WriteAllBytesAsync(file, body);

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-H", "Expect: 100-continue", "--data-binary", "@" + file, $"{_origin.Url}/sha256");

        Assert.Equal(Sha256(body), result.StdOut);
    }

    [Fact]
    public async Task KeepAlive_TwoRequests_ReuseClientAndOriginConnections()
    {
        await using var proxy = new ProxyHarness();

        CommandResult result = await CurlAsync("-v", "-x", proxy.ProxyUrl, "-o", "/dev/null", "-o", "/dev/null", $"{_origin.Url}/bytes/1024", $"{_origin.Url}/bytes/2048");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Re-using existing connection", result.StdErr);
        string[] sources = [.. _origin.RequestSources];
        Assert.Equal(2, sources.Length);
        Assert.Single(sources.Distinct());
    }

    [Fact]
    public async Task Get_PythonHttpServerOrigin_ArrivesIntact()
    {
        string www = Directory.CreateDirectory(Path.Combine(_work, "www")).FullName;
        byte[] body = TestOrigin.Payload(1024 * 1024);
        await File.WriteAllBytesAsync(Path.Combine(www, "1m.bin"), body);
        int port = TestOrigin.FreePort();
        await using BackgroundProcess python = BackgroundProcess.Start("python3", ["-m", "http.server", port.ToString(), "--bind", "127.0.0.1", "--directory", www], name: "python-origin");
        await ProxySockets.WaitForPortAsync(port);
        await using var proxy = new ProxyHarness();
        string file = Path.Combine(_work, "py.bin");

        // Two requests on one client connection: the HTTP/1.0 origin closes after each, the proxy reconnects.
        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", file, "-o", file + ".2", "-w", "%{http_code} ", $"http://127.0.0.1:{port}/1m.bin", $"http://127.0.0.1:{port}/1m.bin");

        Assert.Equal("200 200 ", result.StdOut);
        Assert.Equal(Sha256(body), Sha256(await File.ReadAllBytesAsync(file)));
        Assert.Equal(Sha256(body), Sha256(await File.ReadAllBytesAsync(file + ".2")));
    }

    [Fact]
    public async Task Connect_TlsOrigin_TunnelCarriesHttps()
    {
        string key = Path.Combine(_work, "key.pem"), cert = Path.Combine(_work, "cert.pem");
        await ProcessRunner.ShCheckedAsync(
            $"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {key} -out {cert} -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>&1");
        int port = TestOrigin.FreePort();
        await using BackgroundProcess server = BackgroundProcess.Start("openssl", ["s_server", "-accept", $"127.0.0.1:{port}", "-cert", cert, "-key", key, "-www", "-quiet"], name: "openssl-s_server");
        await ProxySockets.WaitForPortAsync(port);
        await using var proxy = new ProxyHarness(new HttpProxyOptions { ConnectPorts = [port] });

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "--cacert", cert, "-w", "\n%{http_code}", $"https://127.0.0.1:{port}/");

        Assert.Equal(0, result.ExitCode);
        Assert.EndsWith("\n200", result.StdOut);
        Assert.Contains("s_server", result.StdOut);
    }

    [Fact]
    public async Task Connect_RemoteClientPortNotAllowed_Returns403()
    {
        // A private-network client (allowed by the default allowClients) is remote: connectPorts binds it.
        await using var proxy = new ProxyHarness(client: NetEndpoint.Parse("192.168.77.5:40000"));

        string answer = await RawExchangeAsync(proxy.Port, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403 ", answer);
    }

    [Fact]
    public async Task Connect_RemoteClientListedPort_TunnelWorks()
    {
        // The origin is on loopback, which remote clients may not reach by default: opened as an exception here.
        await using var proxy = new ProxyHarness(
            new HttpProxyOptions { ConnectPorts = [_origin.Port], AllowDestinations = Destinations("127.0.0.1") },
            client: NetEndpoint.Parse("192.168.77.5:40000"));

        CommandResult result = await CurlAsync("-p", "-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", $"{_origin.Url}/bytes/1024");

        Assert.Equal("200", result.StdOut);
    }

    [Fact]
    public async Task Connect_LoopbackClientAnyPort_TunnelWorks()
    {
        // Default connectPorts is [443]; a loopback client could reach the origin's port directly anyway.
        await using var proxy = new ProxyHarness();

        CommandResult result = await CurlAsync("-p", "-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{size_download} %{http_code}", $"{_origin.Url}/bytes/1024");

        Assert.Equal("1024 200", result.StdOut);
    }

    [Fact]
    public async Task Connect_TunClientWithThisHostsAddress_AnyPort_TunnelWorks()
    {
        // An application on this host reaching a virtual endpoint through the TUN: its source is the TUN's address.
        await using var proxy = new ProxyHarness(client: NetEndpoint.Parse("10.30.30.1:40000"), origin: PacketOrigin.Tun,
            hostAddresses: HostAddresses.Fixed(NetAddress.Parse("10.30.30.1")));

        CommandResult result = await CurlAsync("-p", "-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{size_download} %{http_code}", $"{_origin.Url}/bytes/1024");

        Assert.Equal("1024 200", result.StdOut);
    }

    [Fact]
    public async Task Connect_ForwardedThroughTun_IsRemote_PortAndDestinationRefused()
    {
        // Issue #13: with IP forwarding on, another host's packets arrive through the TUN too; that is not local.
        await using var proxy = new ProxyHarness(client: NetEndpoint.Parse("10.99.0.2:40000"), origin: PacketOrigin.Tun,
            hostAddresses: HostAddresses.Fixed(NetAddress.Parse("10.30.30.1")));

        string answer = await RawExchangeAsync(proxy.Port, $"CONNECT 127.0.0.1:{_origin.Port} HTTP/1.1\r\nHost: 127.0.0.1:{_origin.Port}\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403 ", answer);
    }

    [Theory]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("GET http://127.0.0.1:1/ HTTP/1.1\r\nBad Header\r\n\r\n")]
    [InlineData("POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("POST http://127.0.0.1:1/ HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")]
    public async Task Garbage_Returns400_AndProxyKeepsServing(string request)
    {
        await using var proxy = new ProxyHarness();

        string answer = await RawExchangeAsync(proxy.Port, request);
        CommandResult after = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", $"{_origin.Url}/bytes/1024");

        Assert.StartsWith("HTTP/1.1 400 ", answer);
        Assert.Equal("200", after.StdOut);
    }

    [Fact]
    public async Task BadChunkSize_Returns400()
    {
        await using var proxy = new ProxyHarness();

        string answer = await RawExchangeAsync(proxy.Port, $"POST {_origin.Url}/sha256 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400 ", answer);
    }

    [Fact]
    public async Task HugeHead_Returns431()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { MaxHeaderBytes = 4096 });

        string answer = await RawExchangeAsync(proxy.Port, $"GET {_origin.Url}/bytes/1 HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 8000)}\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 431 ", answer);
    }

    [Fact]
    public async Task StalledClients_DoNotDelayNormalRequest()
    {
        // Issue #14: a proxy that served clients one after another would make the normal request wait for the
        // stalled heads to time out (60 s here); served independently, it takes milliseconds. 5 s leaves room for a
        // loaded machine and still tells the two apart.
        await using var proxy = new ProxyHarness(new HttpProxyOptions { RequestHeadersTimeout = TimeSpan.FromSeconds(60) });
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 64; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, proxy.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {_origin.Url}/bytes/1024 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: "));
                stalled.Add(socket);
            }

            CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code} %{time_total}", $"{_origin.Url}/bytes/1024");

            string[] parts = result.StdOut.Split(' ');
            Assert.Equal("200", parts[0]);
            double seconds = double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(seconds < 5, $"the normal request took {seconds} s behind 64 stalled clients");
            // The 64 half-sent requests are still being held open by the proxy while the normal one completed.
            Assert.True(proxy.Handler.ActiveConnections >= 64, $"only {proxy.Handler.ActiveConnections} connections open");
        }
        finally
        {
            foreach (Socket socket in stalled)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task SlowHead_Gets408AfterHeadersTimeout()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { RequestHeadersTimeout = TimeSpan.FromSeconds(1) });
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, proxy.Port);
        await socket.SendAsync("GET http://127.0.0.1/ HTTP/1.1\r\n"u8.ToArray());

        string answer = await ProxySockets.ReadToEndAsync(socket);

        Assert.StartsWith("HTTP/1.1 408 ", answer);
    }

    [Fact]
    public async Task OriginDown_Returns502()
    {
        await using var proxy = new ProxyHarness();
        int closedPort = TestOrigin.FreePort();

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", $"http://127.0.0.1:{closedPort}/");

        Assert.Equal("502", result.StdOut);
    }

    [Fact]
    public async Task UnknownHostName_Returns502()
    {
        await using var proxy = new ProxyHarness();

        // .invalid never resolves (RFC 6761 §6.4).
        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", "http://no-such-host.invalid/");

        Assert.Equal("502", result.StdOut);
    }

    [Fact]
    public async Task OriginTimeout_Returns504()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { OriginResponseTimeout = TimeSpan.FromSeconds(1) });

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", $"{_origin.Url}/hang");

        Assert.Equal("504", result.StdOut);
    }

    [Fact]
    public async Task ClientNotInAllowList_Returns403()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { AllowClients = [IpPrefix.Parse("10.0.0.0/8")] });

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", $"{_origin.Url}/bytes/1");

        Assert.Equal("403", result.StdOut);
    }

    [Fact]
    public async Task DestinationPortNotAllowed_Returns403()
    {
        await using var proxy = new ProxyHarness(new HttpProxyOptions { AllowedPorts = [80] });

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", "-w", "%{http_code}", $"{_origin.Url}/bytes/1");

        Assert.Equal("403", result.StdOut);
    }

    [Fact]
    public async Task Response_HasViaAndNoHopByHopFields()
    {
        await using var proxy = new ProxyHarness();

        CommandResult result = await CurlAsync("-x", proxy.ProxyUrl, "-D", "-", "-o", "/dev/null", $"{_origin.Url}/chunked/10");

        Assert.Contains("Via: 1.1 gateway", result.StdOut);
        Assert.Contains("Transfer-Encoding: chunked", result.StdOut);
        Assert.DoesNotContain("Keep-Alive:", result.StdOut);
    }

    [Fact]
    public async Task Metrics_RequestsAndBytes_AreRecordedByStatus()
    {
        await using var proxy = new ProxyHarness();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<int>();
        long bytesSent = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == proxy.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "http_proxy.requests")
            {
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    statuses.Add((int)tag.Value!);
                }
            }
            else if (instrument.Name == "http_proxy.client.bytes_sent")
            {
                Interlocked.Add(ref bytesSent, value);
            }
        });
        listener.Start();

        await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", $"{_origin.Url}/bytes/1024");
        await CurlAsync("-x", proxy.ProxyUrl, "-o", "/dev/null", $"http://127.0.0.1:{TestOrigin.FreePort()}/");
        // Byte counts are reported when a client connection ends, just after curl has gone: wait for it.
        for (int i = 0; i < 200 && (proxy.Handler.ActiveConnections > 0 || Interlocked.Read(ref bytesSent) == 0); i++)
        {
            await Task.Delay(50);
        }

        Assert.Contains(200, statuses);
        Assert.Contains(502, statuses);
        Assert.True(Interlocked.Read(ref bytesSent) > 1024);
    }

    private static List<DestinationRule> Destinations(params string[] entries)
    {
        List<DestinationRule> rules = [];
        foreach (string entry in entries)
        {
            Assert.True(DestinationRule.TryParse(entry, rules));
        }

        return rules;
    }

    private static async Task<CommandResult> CurlAsync(params string[] args) =>
        await ProcessRunner.RunAsync("curl", ["-s", "-S", "--max-time", "60", .. args], CurlTimeout);

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));

    private static async Task<string> RawExchangeAsync(int port, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(request));
        return await ProxySockets.ReadToEndAsync(socket);
    }
}
