using System.Security.Cryptography;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// The published gateway inside a private network namespace with its TUN enabled and the proxy on the
/// virtual endpoint 10.30.30.31:8080 (DESIGN §5); curl in the same namespace goes through the TUN to an
/// origin on the namespace's loopback.
/// </summary>
public sealed class GatewayHttpProxyTunTests : IAsyncLifetime
{
    private const string ProxyUrl = "http://10.30.30.31:8080";
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(120);
    private readonly string _www = Directory.CreateTempSubdirectory("http-proxy-tun-").FullName;
    private readonly int _originPort = NetworkNamespace.RandomPort();
    private NetworkNamespace _netns = null!;
    private BackgroundProcess _origin = null!;
    private GatewayProcess _gateway = null!;

    public async Task InitializeAsync()
    {
        _netns = await NetworkNamespace.CreateAsync("httptun");
        await File.WriteAllBytesAsync(Path.Combine(_www, "0.bin"), []);
        await File.WriteAllBytesAsync(Path.Combine(_www, "1k.bin"), TestOrigin.Payload(1024));
        await File.WriteAllBytesAsync(Path.Combine(_www, "10m.bin"), TestOrigin.Payload(10 * 1024 * 1024));
        _origin = _netns.Start("python3", ["-m", "http.server", _originPort.ToString(), "--bind", "127.0.0.1", "--directory", _www], name: "python-origin");
        _gateway = await GatewayProcess.StartAsync(
            "host:\n  tun: { enabled: true, name: \"gwhttp0\", addresses: [\"10.30.30.1/24\"], mtu: 1420 }\n" +
            "http-proxy:\n  virtual: [\"10.30.30.31:8080\"]\n",
            _netns);
        await _netns.ShCheckedAsync($"for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:{_originPort}/0.bin && exit 0; sleep 0.2; done; exit 1", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _origin.DisposeAsync();
        await _netns.DisposeAsync();
        Directory.Delete(_www, recursive: true);
    }

    [Theory]
    [InlineData("0.bin")]
    [InlineData("1k.bin")]
    [InlineData("10m.bin")]
    public async Task Get_ThroughTun_BodyArrivesIntact(string file)
    {
        string output = Path.Combine(_www, "got-" + file);

        CommandResult result = await _netns.ShAsync(
            $"curl -s -S --max-time 90 -x {ProxyUrl} -o {output} -w '%{{http_code}}' http://127.0.0.1:{_originPort}/{file}", CurlTimeout);

        Assert.Equal("200", result.StdOut);
        Assert.Equal(Sha256(await File.ReadAllBytesAsync(Path.Combine(_www, file))), Sha256(await File.ReadAllBytesAsync(output)));
    }

    [Fact]
    public async Task Connect_ThroughTun_TunClientMayUseAnyPort()
    {
        // The client arrives through the TUN (an application on this host): CONNECT is not held to connectPorts.
        CommandResult result = await _netns.ShAsync(
            $"curl -s -S --max-time 90 -p -x {ProxyUrl} -o /dev/null -w '%{{http_code}} %{{size_download}}' http://127.0.0.1:{_originPort}/1k.bin", CurlTimeout);

        Assert.Equal("200 1024", result.StdOut);
    }

    [Theory]
    [InlineData("--socks5-hostname", "localhost", "1k.bin")]
    [InlineData("--socks5-hostname", "127.0.0.1", "10m.bin")]
    [InlineData("--socks5", "127.0.0.1", "1k.bin")]
    [InlineData("--socks5", "127.0.0.1", "10m.bin")]
    public async Task Socks_ThroughTunVirtualIp_BodyArrivesIntact(string mode, string host, string file)
    {
        // SOCKS5 on the same virtual endpoint as HTTP (told apart by the first byte).
        string output = Path.Combine(_www, $"got-socks-{Guid.NewGuid():N}");

        CommandResult result = await _netns.ShAsync(
            $"curl -s -S --max-time 90 {mode} 10.30.30.31:8080 -o {output} -w '%{{http_code}}' http://{host}:{_originPort}/{file}", CurlTimeout);

        Assert.True(result.StdOut == "200", result.Output);
        Assert.Equal(Sha256(await File.ReadAllBytesAsync(Path.Combine(_www, file))), Sha256(await File.ReadAllBytesAsync(output)));
    }

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
