using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// Two published gateways, a tinyproxy parent (Debian's, with <c>BasicAuth</c>) and recording origins, all on loopback.
/// Gateway A sends <c>localhost</c> to a dead parent first and then to tinyproxy (with credentials), and
/// 127.0.0.2 to a dead parent with direct fallback; everything else goes direct. Gateway B (<c>neverDirect: true</c>)
/// sends <c>localhost</c> to gateway A as its SOCKS5 parent, 127.0.0.3 to a dead parent and 127.0.0.4 to gateway C,
/// a SOCKS5 parent that wants a user name and password (RFC 1929).
/// </summary>
public sealed class ParentProxyFixture : IAsyncLifetime
{
    private BackgroundProcess _tinyproxy = null!;

    public string Work { get; } = Directory.CreateTempSubdirectory("http-proxy-parents-").FullName;

    internal RecordingOrigin Origin { get; } = new();

    internal RecordingOrigin Origin2 { get; } = new(IPAddress.Parse("127.0.0.2"));

    internal RecordingOrigin Origin3 { get; } = new(IPAddress.Parse("127.0.0.3"));

    internal RecordingOrigin Origin4 { get; } = new(IPAddress.Parse("127.0.0.4"));

    public int PortC { get; } = TestOrigin.FreePort();

    public string AccessLogC => Path.Combine(Work, "access-c.log");

    public GatewayProcess GatewayC { get; private set; } = null!;

    public int TinyproxyPort { get; } = TestOrigin.FreePort();

    public int DeadPort { get; } = TestOrigin.FreePort();

    public int DeadPort2 { get; } = TestOrigin.FreePort();

    public int PortA { get; } = TestOrigin.FreePort();

    public int PortB { get; } = TestOrigin.FreePort();

    public string TinyproxyLog => Path.Combine(Work, "tinyproxy.log");

    public string AccessLogA => Path.Combine(Work, "access-a.log");

    public string AccessLogB => Path.Combine(Work, "access-b.log");

    public GatewayProcess GatewayA { get; private set; } = null!;

    public GatewayProcess GatewayB { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string conf = Path.Combine(Work, "tinyproxy.conf");
        await File.WriteAllTextAsync(conf,
            $"Port {TinyproxyPort}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{TinyproxyLog}\"\nLogLevel Connect\nMaxClients 100\n" +
            "Allow 127.0.0.1\nBasicAuth alice s3cret\n");
        _tinyproxy = BackgroundProcess.Start("tinyproxy", ["-d", "-c", conf], name: "tinyproxy");
        await WaitForListenerAsync(TinyproxyPort);
        GatewayA = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: [\"127.0.0.1:{PortA}\"]\n  accessLog: {{ path: \"{AccessLogA}\", format: squid }}\n" +
            "  parents:\n" +
            $"    - {{ proxy: \"http://alice:s3cret@127.0.0.1:{DeadPort}\", domains: [localhost] }}\n" +
            $"    - {{ proxy: \"http://alice:s3cret@127.0.0.1:{TinyproxyPort}\", domains: [localhost] }}\n" +
            $"    - {{ proxy: \"http://127.0.0.1:{DeadPort2}\", networks: [127.0.0.2/32] }}\n");
        string bob = (await ProcessRunner.ShCheckedAsync("htpasswd -nbB bob 'p@ss:w0rd'")).Trim();
        GatewayC = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: [\"127.0.0.1:{PortC}\"]\n  accessLog: {{ path: \"{AccessLogC}\", format: squid }}\n" +
            $"  auth: {{ users: [\"{bob}\"] }}\n");
        GatewayB = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: [\"127.0.0.1:{PortB}\"]\n  accessLog: {{ path: \"{AccessLogB}\", format: squid }}\n" +
            // No pooling: a connection through a SOCKS5 parent closes after its response, so the parent logs the tunnel.
            "  neverDirect: true\n  poolMaxIdlePerOrigin: 0\n" +
            "  parents:\n" +
            $"    - {{ proxy: \"socks5://127.0.0.1:{PortA}\", domains: [localhost] }}\n" +
            $"    - {{ proxy: \"http://127.0.0.1:{DeadPort2}\", networks: [127.0.0.3/32] }}\n" +
            $"    - {{ proxy: \"socks5://bob:p%40ss%3Aw0rd@127.0.0.1:{PortC}\", networks: [127.0.0.4/32] }}\n");
    }

    /// <summary>Lines of a log file containing <paramref name="needle"/>, waiting up to 10 s for at least <paramref name="atLeast"/> (logs are written asynchronously).</summary>
    public static async Task<string[]> LinesAsync(string path, string needle, int atLeast = 1)
    {
        string[] found = [];
        for (long deadline = Environment.TickCount64 + 10_000; Environment.TickCount64 < deadline; await Task.Delay(50))
        {
            found = File.Exists(path) ? [.. (await File.ReadAllLinesAsync(path)).Where(l => l.Contains(needle, StringComparison.Ordinal))] : [];
            if (found.Length >= atLeast)
            {
                break;
            }
        }

        return found;
    }

    private static async Task WaitForListenerAsync(int port)
    {
        for (long deadline = Environment.TickCount64 + 30_000; ; await Task.Delay(50))
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (Environment.TickCount64 < deadline)
            {
                // Not listening yet.
            }
        }
    }

    public async Task DisposeAsync()
    {
        await GatewayB.DisposeAsync();
        await GatewayC.DisposeAsync();
        await GatewayA.DisposeAsync();
        await _tinyproxy.DisposeAsync();
        await Origin.DisposeAsync();
        await Origin2.DisposeAsync();
        await Origin3.DisposeAsync();
        await Origin4.DisposeAsync();
        Directory.Delete(Work, recursive: true);
    }
}

/// <summary>
/// Parent proxies (issue 18) with real peers: plain GET, CONNECT (curl -p) and SOCKS5 (curl --socks5-hostname) for a
/// parent's domain go through tinyproxy — its own log shows them, and the origin sees its Via — while other names go
/// direct; a dead first parent is skipped for the next; a dead parent falls back to direct, or under neverDirect to
/// 502 / SOCKS reply 1; a SOCKS5 parent (another gateway) gets the name, not an address.
/// </summary>
public sealed class GatewayParentProxyTests(ParentProxyFixture fixture) : IClassFixture<ParentProxyFixture>
{
    [Fact]
    public async Task Get_ParentDomain_GoesThroughTinyproxy_WithCredentials_PastTheDeadFirstParent()
    {
        string path = $"/via-parent-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortA} http://localhost:{fixture.Origin.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        Assert.Single(await ParentProxyFixture.LinesAsync(fixture.TinyproxyLog, $"GET http://localhost:{fixture.Origin.Port}{path} HTTP/1.1"));
        string raw = Assert.Single(fixture.Origin.Requests, r => r.RequestLine.Contains(path, StringComparison.Ordinal)).Raw;
        Assert.Contains("tinyproxy", RawHttpConnection.FieldValue(raw, "Via"), StringComparison.Ordinal);
        Assert.Single(await ParentProxyFixture.LinesAsync(fixture.AccessLogA, $" GET http://localhost:{fixture.Origin.Port}{path} - FIRSTUP_PARENT/127.0.0.1:{fixture.TinyproxyPort} "));
        await fixture.GatewayA.WaitForOutputAsync($"parent proxy http://127.0.0.1:{fixture.DeadPort} unreachable", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("s3cret", fixture.GatewayA.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_OtherName_GoesDirect_TinyproxyNeverSeesIt()
    {
        string path = $"/direct-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortA} http://127.0.0.1:{fixture.Origin.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        string raw = Assert.Single(fixture.Origin.Requests, r => r.RequestLine.Contains(path, StringComparison.Ordinal)).Raw;
        Assert.DoesNotContain("tinyproxy", raw, StringComparison.Ordinal);
        Assert.Single(await ParentProxyFixture.LinesAsync(fixture.AccessLogA, $" GET http://127.0.0.1:{fixture.Origin.Port}{path} - HIER_DIRECT/"));
        Assert.Empty(await ParentProxyFixture.LinesAsync(fixture.TinyproxyLog, path, atLeast: 0));
    }

    [Fact]
    public async Task Connect_ParentDomain_TunnelOpenedByTinyproxy()
    {
        string needle = $"CONNECT localhost:{fixture.Origin.Port} HTTP/1.1";
        int before = (await ParentProxyFixture.LinesAsync(fixture.TinyproxyLog, needle, atLeast: 0)).Length;
        string path = $"/tunnel-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"-p -x http://127.0.0.1:{fixture.PortA} http://localhost:{fixture.Origin.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        Assert.Equal(before + 1, (await ParentProxyFixture.LinesAsync(fixture.TinyproxyLog, needle, before + 1)).Length);
        Assert.Contains(await ParentProxyFixture.LinesAsync(fixture.AccessLogA, $" CONNECT localhost:{fixture.Origin.Port} - FIRSTUP_PARENT/127.0.0.1:{fixture.TinyproxyPort} "),
            l => l.Contains(" TCP_TUNNEL/200 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Socks5_ParentDomain_TunnelOpenedByTinyproxy()
    {
        string needle = $"CONNECT localhost:{fixture.Origin.Port} HTTP/1.1";
        int before = (await ParentProxyFixture.LinesAsync(fixture.TinyproxyLog, needle, atLeast: 0)).Length;
        string path = $"/socks-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"--socks5-hostname 127.0.0.1:{fixture.PortA} http://localhost:{fixture.Origin.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        Assert.Equal(before + 1, (await ParentProxyFixture.LinesAsync(fixture.TinyproxyLog, needle, before + 1)).Length);
    }

    [Fact]
    public async Task Get_NetworkParentDown_FallsBackDirect()
    {
        string path = $"/fallback-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortA} http://127.0.0.2:{fixture.Origin2.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        Assert.Single(fixture.Origin2.Requests, r => r.RequestLine.Contains(path, StringComparison.Ordinal));
        Assert.Single(await ParentProxyFixture.LinesAsync(fixture.AccessLogA, $" GET http://127.0.0.2:{fixture.Origin2.Port}{path} - HIER_DIRECT/"));
    }

    [Fact]
    public async Task Get_ThroughSocks5Parent_ParentGetsTheNameAndForwardsIt()
    {
        string path = $"/chain-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortB} http://localhost:{fixture.Origin.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        // Gateway A, B's SOCKS5 parent, was asked for the name (ATYP 3) and sent it on to tinyproxy.
        Assert.NotEmpty(await ParentProxyFixture.LinesAsync(fixture.AccessLogA, $" SOCKS5 localhost:{fixture.Origin.Port} - FIRSTUP_PARENT/127.0.0.1:{fixture.TinyproxyPort} "));
        Assert.Single(await ParentProxyFixture.LinesAsync(fixture.AccessLogB, $" GET http://localhost:{fixture.Origin.Port}{path} - FIRSTUP_PARENT/127.0.0.1:{fixture.PortA} "));
    }

    [Fact]
    public async Task Get_ThroughSocks5ParentWithCredentials_ParentLogsTheUser()
    {
        string path = $"/rfc1929-{Guid.NewGuid():N}";

        (string answer, string output) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortB} http://127.0.0.4:{fixture.Origin4.Port}{path}");

        Assert.True(answer == $"200 {path}", output);
        Assert.Single(fixture.Origin4.Requests, r => r.RequestLine.Contains(path, StringComparison.Ordinal));
        // squid format: ... method URL user hierarchy/peer type; gateway C authenticated B as bob (RFC 1929).
        Assert.Contains(await ParentProxyFixture.LinesAsync(fixture.AccessLogC, $" SOCKS5 127.0.0.4:{fixture.Origin4.Port} bob "),
            l => l.Contains(" TCP_TUNNEL/200 ", StringComparison.Ordinal));
        Assert.Single(await ParentProxyFixture.LinesAsync(fixture.AccessLogB, $" GET http://127.0.0.4:{fixture.Origin4.Port}{path} - FIRSTUP_PARENT/127.0.0.1:{fixture.PortC} "));
        Assert.DoesNotContain("w0rd", fixture.GatewayB.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NeverDirect_NoParentUp_Get502Connect502SocksGeneralFailure_OtherDestinationsStillDirect()
    {
        string path = $"/never-{Guid.NewGuid():N}";

        (string get, string getOutput) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortB} http://127.0.0.3:{fixture.Origin3.Port}{path}");
        CommandResult socks = await ProcessRunner.ShAsync(
            $"python3 {Path.Combine(AppContext.BaseDirectory, "HttpProxy", "socks_client.py")} connect 127.0.0.1 {fixture.PortB} 127.0.0.3 {fixture.Origin3.Port}",
            TimeSpan.FromSeconds(60));
        CommandResult connect = await ProcessRunner.ShAsync(
            $"curl -s -o /dev/null -w '%{{http_connect}}' --max-time 60 -p -x http://127.0.0.1:{fixture.PortB} http://127.0.0.3:{fixture.Origin3.Port}{path}", TimeSpan.FromSeconds(90));
        (string unmatched, string unmatchedOutput) = await CurlAsync($"-x http://127.0.0.1:{fixture.PortB} http://127.0.0.1:{fixture.Origin.Port}{path}");

        Assert.True(get.StartsWith("502 ", StringComparison.Ordinal), getOutput);
        Assert.Contains("neverDirect", get, StringComparison.Ordinal);
        Assert.True(socks.StdOut.Trim() == "1", socks.Output);
        Assert.True(connect.StdOut == "502", connect.Output);
        Assert.Empty(fixture.Origin3.Requests);
        Assert.True(unmatched == $"200 {path}", unmatchedOutput);
    }

    /// <summary>curl through a proxy: Answer is "status body" (the body of the gateway's error pages too).</summary>
    private static async Task<(string Answer, string Output)> CurlAsync(string arguments)
    {
        CommandResult result = await ProcessRunner.ShAsync($"curl -s -S --max-time 60 -w '\\n%{{http_code}}' {arguments}", TimeSpan.FromSeconds(90));
        int split = result.StdOut.LastIndexOf('\n');
        return split < 0 ? (result.StdOut, result.Output) : ($"{result.StdOut[(split + 1)..]} {result.StdOut[..split]}", result.Output);
    }
}
