using System.Security.Cryptography;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// The published gateway serving HTTP and SOCKS on one <c>listen:</c> port (told apart by the first byte) and SOCKS
/// alone on a <c>socksListen:</c> port, with python http.server origins on 127.0.0.1 and [::1].
/// </summary>
public sealed class SocksGatewayFixture : IAsyncLifetime
{
    private BackgroundProcess _origin4 = null!;
    private BackgroundProcess _origin6 = null!;

    public string Www { get; } = Directory.CreateTempSubdirectory("http-proxy-socks-").FullName;

    public GatewayProcess Gateway { get; private set; } = null!;

    public int MixedPort { get; } = TestOrigin.FreePort();

    public string AccessLog => Path.Combine(Www, "access.log");

    public int SocksPort { get; private set; }

    public int OriginPort { get; private set; }

    public async Task InitializeAsync()
    {
        SocksPort = TestOrigin.FreePort();
        OriginPort = TestOrigin.FreePort();
        await File.WriteAllBytesAsync(Path.Combine(Www, "1k.bin"), TestOrigin.Payload(1024));
        await File.WriteAllBytesAsync(Path.Combine(Www, "10m.bin"), TestOrigin.Payload(10 * 1024 * 1024));
        _origin4 = BackgroundProcess.Start("python3", ["-m", "http.server", OriginPort.ToString(), "--bind", "127.0.0.1", "--directory", Www], name: "origin-v4");
        _origin6 = BackgroundProcess.Start("python3", ["-m", "http.server", OriginPort.ToString(), "--bind", "::1", "--directory", Www], name: "origin-v6");
        Gateway = await GatewayProcess.StartAsync(
            $"http-proxy:\n  listen: [\"127.0.0.1:{MixedPort}\", \"[::1]:{MixedPort}\"]\n  socksListen: [\"127.0.0.1:{SocksPort}\"]\n" +
            $"  accessLog: {{ path: \"{AccessLog}\", format: squid }}\n");
        await ProcessRunner.ShCheckedAsync(
            $"for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:{OriginPort}/1k.bin && curl -s -o /dev/null 'http://[::1]:{OriginPort}/1k.bin' && exit 0; sleep 0.2; done; exit 1",
            TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await _origin4.DisposeAsync();
        await _origin6.DisposeAsync();
        Directory.Delete(Www, recursive: true);
    }
}

/// <summary>
/// SOCKS (issue #18) through the published gateway with real clients: curl's SOCKS5 (names resolved by the gateway
/// with --socks5-hostname, by curl with --socks5), IPv4 and IPv6 destinations, 1 KiB and 10 MiB byte for byte; SOCKS4a;
/// a raw Python client for UDP ASSOCIATE (1,000 datagrams echoed; fragments and strangers not relayed) and BIND.
/// </summary>
public sealed class GatewaySocksTests(SocksGatewayFixture fixture) : IClassFixture<SocksGatewayFixture>
{
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData("--socks5-hostname", "127.0.0.1", "1k.bin")]
    [InlineData("--socks5-hostname", "127.0.0.1", "10m.bin")]
    [InlineData("--socks5-hostname", "[::1]", "1k.bin")]
    [InlineData("--socks5-hostname", "[::1]", "10m.bin")]
    [InlineData("--socks5-hostname", "localhost", "1k.bin")]
    [InlineData("--socks5", "127.0.0.1", "1k.bin")]
    [InlineData("--socks5", "127.0.0.1", "10m.bin")]
    [InlineData("--socks5", "[::1]", "1k.bin")]
    [InlineData("--socks5", "[::1]", "10m.bin")]
    [InlineData("--socks4a", "127.0.0.1", "1k.bin")]
    public async Task Curl_ThroughMixedPort_BodyArrivesIntact(string mode, string host, string file)
    {
        await AssertDownloadAsync(mode, fixture.MixedPort, host, file);
    }

    [Theory]
    [InlineData("--socks5-hostname", "127.0.0.1")]
    [InlineData("--socks5-hostname", "[::1]")]
    [InlineData("--socks5", "[::1]")]
    public async Task Curl_ToProxyOnIPv6Address_BodyArrivesIntact(string mode, string host)
    {
        await AssertDownloadAsync(mode, fixture.MixedPort, host, "10m.bin", proxyHost: "[::1]");
    }

    [Theory]
    [InlineData("1k.bin")]
    [InlineData("10m.bin")]
    public async Task Curl_ThroughSocksOnlyPort_BodyArrivesIntact(string file)
    {
        await AssertDownloadAsync("--socks5-hostname", fixture.SocksPort, "127.0.0.1", file);
    }

    /// <summary>
    /// pipelined: greeting, request and GET in one write (the method reply and the CONNECT reply come back in order);
    /// bytewise: every message one byte per write, so the proxy reads each in pieces.
    /// </summary>
    [Theory]
    [InlineData("pipelined", "127.0.0.1", true)]
    [InlineData("pipelined", "localhost", false)]
    [InlineData("bytewise", "127.0.0.1", false)]
    [InlineData("bytewise", "localhost", true)]
    public async Task Connect_PipelinedInOneWriteOrSplitByteByByte_BodyArrivesIntact(string mode, string host, bool socksOnlyPort)
    {
        int port = socksOnlyPort ? fixture.SocksPort : fixture.MixedPort;

        CommandResult result = await PythonAsync($"fetch {mode} 127.0.0.1 {port} {host} {fixture.OriginPort} /1k.bin");

        Assert.Equal($"reply 0 status 200 sha256 {Sha256(Path.Combine(fixture.Www, "1k.bin"))}", result.StdOut.Trim());
    }

    [Fact]
    public async Task HttpRequest_OnSocksOnlyPort_IsClosed_AndOnMixedPortServed()
    {
        string url = $"http://127.0.0.1:{fixture.OriginPort}/1k.bin";

        CommandResult socksOnly = await CurlAsync($"-x http://127.0.0.1:{fixture.SocksPort} -o /dev/null -w '%{{http_code}}' {url}");
        CommandResult mixed = await CurlAsync($"-x http://127.0.0.1:{fixture.MixedPort} -o /dev/null -w '%{{http_code}}' {url}");

        Assert.NotEqual(0, socksOnly.ExitCode);
        Assert.Equal("200", mixed.StdOut);
    }

    [Fact]
    public async Task UdpAssociate_PythonClient_EchoesThousandDatagrams_RefusesFragmentsAndStrangers()
    {
        CommandResult result = await PythonAsync($"udp 127.0.0.1 {fixture.MixedPort} 1000");

        Assert.Equal(["echoed 1000", "fragment-relayed no", "stranger-relayed no"], result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Bind_IsRefusedWithCommandNotSupported()
    {
        CommandResult result = await PythonAsync($"command 127.0.0.1 {fixture.MixedPort} 2");

        Assert.Equal("7", result.StdOut.Trim());
        Assert.False(fixture.Gateway.HasExited);
    }

    [Fact]
    public async Task Connect_ClosedPort_RepliesConnectionRefused()
    {
        CommandResult result = await PythonAsync($"connect 127.0.0.1 {fixture.MixedPort} 127.0.0.1 {TestOrigin.FreePort()}");

        Assert.Equal("5", result.StdOut.Trim());
    }

    [Fact]
    public async Task AccessLog_GetConnectAndSocks_EachLineParsesAsSquidNative()
    {
        string url = $"http://127.0.0.1:{fixture.OriginPort}/1k.bin";
        string tag = Guid.NewGuid().ToString("N");
        await CurlAsync($"-x http://127.0.0.1:{fixture.MixedPort} -o /dev/null {url}?get-{tag}");
        await CurlAsync($"-p -x http://127.0.0.1:{fixture.MixedPort} -o /dev/null {url}?connect-{tag}");
        await CurlAsync($"--socks5 127.0.0.1:{fixture.MixedPort} -o /dev/null {url}?socks-{tag}");
        // squid's native format: time.ms elapsed client result/status bytes method URL user hierarchy/peer type.
        var squid = new System.Text.RegularExpressions.Regex(@"^\d+\.\d{3} +\d+ \S+ [A-Z_]+/\d{3} \d+ \S+ \S+ \S+ [A-Z_]+/\S+ \S+$");

        string[] lines = [];
        for (int i = 0; i < 100 && lines.Count(l => l.Contains($" SOCKS5 127.0.0.1:{fixture.OriginPort} ", StringComparison.Ordinal)) == 0; i++)
        {
            await Task.Delay(100);
            lines = File.Exists(fixture.AccessLog) ? await File.ReadAllLinesAsync(fixture.AccessLog) : [];
        }

        Assert.All(lines, l => Assert.Matches(squid, l));
        Assert.Contains(lines, l => l.Contains($" TCP_MISS/200 ", StringComparison.Ordinal) && l.Contains($" GET {url}?get-{tag} - HIER_DIRECT/127.0.0.1:{fixture.OriginPort} ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" TCP_TUNNEL/200 ", StringComparison.Ordinal) && l.Contains($" CONNECT 127.0.0.1:{fixture.OriginPort} ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" TCP_TUNNEL/200 ", StringComparison.Ordinal) && l.Contains($" SOCKS5 127.0.0.1:{fixture.OriginPort} ", StringComparison.Ordinal));
    }

    private async Task AssertDownloadAsync(string mode, int port, string host, string file, string proxyHost = "127.0.0.1")
    {
        string output = Path.Combine(fixture.Www, $"got-{Guid.NewGuid():N}");

        CommandResult result = await CurlAsync($"{mode} {proxyHost}:{port} -o {output} -w '%{{http_code}}' 'http://{host}:{fixture.OriginPort}/{file}'");

        Assert.True(result.StdOut == "200", result.Output);
        Assert.Equal(Sha256(Path.Combine(fixture.Www, file)), Sha256(output));
        File.Delete(output);
    }

    private static Task<CommandResult> CurlAsync(string arguments) => ProcessRunner.ShAsync($"curl -s -S --max-time 90 {arguments}", CurlTimeout);

    private static Task<CommandResult> PythonAsync(string arguments) =>
        ProcessRunner.ShAsync($"python3 {Path.Combine(AppContext.BaseDirectory, "HttpProxy", "socks_client.py")} {arguments}", TimeSpan.FromSeconds(120));

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
