using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// Two namespaces: the gateway's (its admin listener on 127.0.0.1, an allowed origin on 127.0.0.2, a cacheable
/// loopback origin on 127.0.0.1) and a remote client's, joined by a veth pair. The gateway's proxy listens on
/// its veth address 10.77.0.1:3128.
/// </summary>
public sealed class DestinationPolicyFixture : IAsyncLifetime
{
    public const string GatewayAddress = "10.77.0.1";
    public const int ProxyPort = 3128;
    public const string ProxyUrl = "http://10.77.0.1:3128";

    private BackgroundProcess _allowedOrigin = null!;
    private BackgroundProcess _loopbackOrigin = null!;

    public NetworkNamespace GatewayNamespace { get; private set; } = null!;

    public NetworkNamespace ClientNamespace { get; private set; } = null!;

    public GatewayProcess Gateway { get; private set; } = null!;

    public string Www { get; } = Directory.CreateTempSubdirectory("http-proxy-ssrf-").FullName;

    public int AdminPort { get; } = NetworkNamespace.RandomPort();

    public int OriginPort { get; } = NetworkNamespace.RandomPort();

    public async Task InitializeAsync()
    {
        GatewayNamespace = await NetworkNamespace.CreateAsync("ssrfgw");
        ClientNamespace = await NetworkNamespace.CreateAsync("ssrfcl");
        await GatewayNamespace.ConnectAsync(ClientNamespace, $"{GatewayAddress}/24", "10.77.0.2/24", "ssrf");
        await File.WriteAllBytesAsync(Path.Combine(Www, "1k.bin"), TestOrigin.Payload(1024));
        // Old enough for a heuristic freshness lifetime (RFC 9111 §4.2.2): the loopback origin's answers are cached.
        File.SetLastWriteTimeUtc(Path.Combine(Www, "1k.bin"), new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        _allowedOrigin = GatewayNamespace.Start("python3", ["-m", "http.server", OriginPort.ToString(), "--bind", "127.0.0.2", "--directory", Www], name: "origin-127.0.0.2");
        _loopbackOrigin = GatewayNamespace.Start("python3", ["-m", "http.server", OriginPort.ToString(), "--bind", "127.0.0.1", "--directory", Www], name: "origin-127.0.0.1");
        Gateway = await GatewayProcess.StartAsync(
            $"host:\n  admin:\n    listen: 127.0.0.1:{AdminPort}\n" +
            $"http-proxy:\n  listen: [\"{GatewayAddress}:{ProxyPort}\"]\n  allowDestinations: [\"127.0.0.2\"]\n" +
            // CONNECT ports opened so that only the destination policy stands between a remote client and loopback.
            $"  connectPorts: [443, 22, {AdminPort}, {OriginPort}]\n",
            GatewayNamespace);
        await GatewayNamespace.ShCheckedAsync(
            $"for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.2:{OriginPort}/1k.bin && curl -s -o /dev/null http://127.0.0.1:{OriginPort}/1k.bin && exit 0; sleep 0.2; done; exit 1",
            TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await _allowedOrigin.DisposeAsync();
        await _loopbackOrigin.DisposeAsync();
        await ClientNamespace.DisposeAsync();
        await GatewayNamespace.DisposeAsync();
        Directory.Delete(Www, recursive: true);
    }
}

/// <summary>
/// SSRF through the published gateway (issue #13): a remote client asks the proxy for the gateway's own loopback
/// services, link-local metadata and its own addresses, by plain request and by CONNECT; each gets 403 with the
/// rule that refused it, while the configured exception works and a client on the gateway's host is not held to
/// the policy (so the 403 is the policy, not a dead port).
/// </summary>
public sealed class GatewayHttpProxyDestinationTests(DestinationPolicyFixture fixture) : IClassFixture<DestinationPolicyFixture>
{
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("http://127.0.0.1:{admin}/metrics", "loopback")]
    [InlineData("http://localhost:{admin}/metrics", "loopback")]
    [InlineData("http://2130706433:{admin}/metrics", "loopback")]
    [InlineData("http://[::1]:{admin}/metrics", "loopback")]
    [InlineData("http://[::ffff:127.0.0.1]:{admin}/metrics", "loopback")]
    [InlineData("http://0.0.0.0:{admin}/metrics", "unspecified")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local")]
    [InlineData("http://10.77.0.1:{admin}/metrics", "this host's own address")]
    public async Task Get_RemoteClient_DeniedDestination_Gets403WithTheRule(string url, string rule)
    {
        CommandResult result = await ClientCurlAsync($"-s -x {DestinationPolicyFixture.ProxyUrl} -w '\\n%{{http_code}}' '{Url(url)}'");

        Assert.EndsWith("\n403", result.StdOut);
        Assert.Contains($"({rule}; denyDestinations)", result.StdOut);
    }

    [Fact]
    public async Task Get_ManyDeniedRequests_AreLoggedAtMostFivePerTenSeconds()
    {
        string urls = string.Join(' ', Enumerable.Range(0, 30).Select(i => $"-o /dev/null http://127.0.0.1:{fixture.AdminPort}/x{i}"));
        int before = Count(fixture.Gateway.Output, "denyDestinations); answered 403");

        CommandResult result = await ClientCurlAsync($"-s -x {DestinationPolicyFixture.ProxyUrl} -w '%{{http_code}} ' {urls}");

        Assert.Equal(string.Concat(Enumerable.Repeat("403 ", 30)), result.StdOut);
        await Task.Delay(500);
        int logged = Count(fixture.Gateway.Output, "denyDestinations); answered 403") - before;
        Assert.InRange(logged, 0, 5);
        Assert.Contains("destination 127.0.0.1:", fixture.Gateway.Output);
    }

    [Theory]
    [InlineData("127.0.0.1:{admin}")]
    [InlineData("127.0.0.1:22")]
    [InlineData("10.77.0.1:{admin}")]
    public async Task Connect_RemoteClient_LoopbackOrOwnAddress_Gets403(string authority)
    {
        // connectPorts is opened for these ports so that only the destination policy can refuse them.
        CommandResult result = await ClientCurlAsync(
            $"-s -p -x {DestinationPolicyFixture.ProxyUrl} -o /dev/null -w '%{{http_connect}}' 'http://{Url(authority)}/metrics'");

        Assert.Equal("403", result.StdOut);
    }

    [Fact]
    public async Task Get_RemoteClient_AllowDestinationsException_IsServedIntact()
    {
        string output = Path.Combine(fixture.Www, $"got-{Guid.NewGuid():N}");

        CommandResult result = await ClientCurlAsync(
            $"-s -x {DestinationPolicyFixture.ProxyUrl} -o {output} -w '%{{http_code}}' http://127.0.0.2:{fixture.OriginPort}/1k.bin");

        Assert.Equal("200", result.StdOut);
        Assert.Equal(TestOrigin.Payload(1024), await File.ReadAllBytesAsync(output));
    }

    [Fact]
    public async Task Get_LocalClientFetchedFirst_RemoteClientStillRefused_NoPooledConnectionOrCachedAnswer()
    {
        // A client on the gateway's host (source 10.77.0.1, one of its addresses) may reach loopback: it could
        // connect there itself. What it leaves behind — a pooled origin connection, a cached response — must not
        // serve a remote client the policy refuses.
        string metrics = $"http://127.0.0.1:{fixture.AdminPort}/metrics";
        string file = $"http://127.0.0.1:{fixture.OriginPort}/1k.bin";
        CommandResult local = await fixture.GatewayNamespace.ShAsync(
            $"curl -s -x {DestinationPolicyFixture.ProxyUrl} -w '%{{http_code}} ' -o /dev/null {metrics} -o /dev/null {file} -o /dev/null {file}", CurlTimeout);

        CommandResult remote = await ClientCurlAsync($"-s -x {DestinationPolicyFixture.ProxyUrl} -w '%{{http_code}} ' -o /dev/null {metrics} -o /dev/null {file}");

        Assert.Equal("200 200 200 ", local.StdOut);
        Assert.Equal("403 403 ", remote.StdOut);
    }

    [Theory]
    [InlineData("127.0.0.1", "{admin}")]
    [InlineData("localhost", "{admin}")]
    [InlineData("::1", "{admin}")]
    [InlineData("10.77.0.1", "{admin}")]
    [InlineData("169.254.169.254", "443")]
    public async Task SocksConnect_RemoteClient_DeniedDestination_GetsReplyNotAllowed(string host, string port)
    {
        // A raw RFC 1928 client: the reply code itself (2 = connection not allowed by ruleset), by IP and by name
        // (the name resolved by the gateway, then refused on its address).
        CommandResult result = await fixture.ClientNamespace.ShAsync(
            $"python3 {SocksClientScript} connect {DestinationPolicyFixture.GatewayAddress} {DestinationPolicyFixture.ProxyPort} {host} {Url(port)}", CurlTimeout);

        Assert.True(result.StdOut.Trim() == "2", result.Output);
    }

    [Fact]
    public async Task SocksConnect_RemoteClient_CurlRefusedForLoopback_ServedForAllowedDestination()
    {
        string output = Path.Combine(fixture.Www, $"got-{Guid.NewGuid():N}");
        string proxy = $"{DestinationPolicyFixture.GatewayAddress}:{DestinationPolicyFixture.ProxyPort}";

        CommandResult denied = await ClientCurlAsync($"-s -S --socks5-hostname {proxy} -o /dev/null http://127.0.0.1:{fixture.AdminPort}/metrics");
        CommandResult allowed = await ClientCurlAsync($"-s -S --socks5-hostname {proxy} -o {output} -w '%{{http_code}}' http://127.0.0.2:{fixture.OriginPort}/1k.bin");

        Assert.NotEqual(0, denied.ExitCode);
        // curl 7.88 names the SOCKS reply code: "(97) Can't complete SOCKS5 connection to 127.0.0.1. (2)".
        Assert.Matches(@"\(97\).*\(2\)\s*$", denied.StdErr);
        Assert.True(allowed.StdOut == "200", allowed.Output);
        Assert.Equal(TestOrigin.Payload(1024), await File.ReadAllBytesAsync(output));
    }

    [Fact]
    public async Task SocksUdpAssociate_RemoteClient_LoopbackNotRelayed_AllowedDestinationRelayed()
    {
        // UDP echo servers on the gateway's loopback (refused by the policy) and on 127.0.0.2 (allowDestinations).
        int port = NetworkNamespace.RandomPort();
        await using BackgroundProcess loopback = fixture.GatewayNamespace.Start("python3", [SocksClientScript, "echo", "127.0.0.1", port.ToString()], name: "udp-echo-127.0.0.1");
        await using BackgroundProcess allowed = fixture.GatewayNamespace.Start("python3", [SocksClientScript, "echo", "127.0.0.2", port.ToString()], name: "udp-echo-127.0.0.2");
        string client = $"python3 {SocksClientScript} udp-to {DestinationPolicyFixture.GatewayAddress} {DestinationPolicyFixture.ProxyPort}";
        // The echo servers are up once the allowed one answers (retry while python starts).
        CommandResult toAllowed = await fixture.ClientNamespace.ShAsync(
            $"for i in $(seq 20); do r=$({client} 127.0.0.2 {port}); [ \"$r\" = 'relayed yes' ] && break; done; echo $r", CurlTimeout);

        CommandResult toLoopback = await fixture.ClientNamespace.ShAsync($"{client} 127.0.0.1 {port}", CurlTimeout);

        Assert.True(toAllowed.StdOut.Trim() == "relayed yes", toAllowed.Output);
        Assert.True(toLoopback.StdOut.Trim() == "relayed no", toLoopback.Output);
    }

    [Fact]
    public async Task Check_BadDestinationEntry_IsReportedWithFileLineColumn()
    {
        string folder = Directory.CreateTempSubdirectory("http-proxy-check-").FullName;
        string path = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(path, "http-proxy:\n  listen: [127.0.0.1:3128]\n  denyDestinations: [default, 10.0.0.0/33]\n  allowDestinations: [localhost]\n");
        string gateway = await GatewayBuild.GatewayDirectoryAsync();

        CommandResult result = await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", path], TimeSpan.FromMinutes(2));

        Assert.True(result.ExitCode == 2, result.Output);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(path)}:3:\d+: http-proxy\.denyDestinations\[1\]", result.StdErr);
        Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(path)}:4:\d+: http-proxy\.allowDestinations\[0\]", result.StdErr);
        Directory.Delete(folder, recursive: true);
    }

    private static string SocksClientScript => Path.Combine(AppContext.BaseDirectory, "HttpProxy", "socks_client.py");

    private static int Count(string text, string needle)
    {
        int count = 0;
        for (int at = text.IndexOf(needle, StringComparison.Ordinal); at >= 0; at = text.IndexOf(needle, at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private string Url(string template) => template.Replace("{admin}", fixture.AdminPort.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private Task<CommandResult> ClientCurlAsync(string arguments) =>
        fixture.ClientNamespace.ShAsync($"curl --max-time 30 {arguments}", CurlTimeout);
}
