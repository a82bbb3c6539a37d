using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// The http-proxy plugin inside the real published gateway (<c>gateway run --config</c>), reached with
/// curl through a <c>listen:</c> host socket.
/// </summary>
public sealed class GatewayHttpProxyTests : IAsyncLifetime
{
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(90);
    private readonly string _work = Directory.CreateTempSubdirectory("http-proxy-gw-").FullName;
    private TestOrigin _origin = null!;
    private GatewayProcess _gateway = null!;
    private int _proxyPort;

    private string ProxyUrl => $"http://127.0.0.1:{_proxyPort}";

    public async Task InitializeAsync()
    {
        _origin = new TestOrigin();
        _proxyPort = TestOrigin.FreePort();
        _gateway = await GatewayProcess.StartAsync($"http-proxy:\n  listen: [\"127.0.0.1:{_proxyPort}\"]\n");
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _origin.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1024)]
    public async Task Get_HostSocket_BodyArrivesIntact(int length)
    {
        string file = Path.Combine(_work, $"get-{length}");

        CommandResult result = await CurlAsync("-x", ProxyUrl, "-o", file, "-w", "%{http_code}", $"{_origin.Url}/bytes/{length}");

        Assert.Equal("200", result.StdOut);
        Assert.Equal(Sha256(TestOrigin.Payload(length)), Sha256(await File.ReadAllBytesAsync(file)));
    }

    [Fact]
    public async Task Connect_TlsOrigin_LoopbackClientAnyPort_CarriesHttps()
    {
        // connectPorts is left at its default [443]: a loopback client may still tunnel to any port.
        string key = Path.Combine(_work, "key.pem"), cert = Path.Combine(_work, "cert.pem");
        await ProcessRunner.ShCheckedAsync(
            $"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {key} -out {cert} -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>&1");
        int port = TestOrigin.FreePort();
        await using BackgroundProcess server = BackgroundProcess.Start("openssl", ["s_server", "-accept", $"127.0.0.1:{port}", "-cert", cert, "-key", key, "-www", "-quiet"], name: "openssl-s_server");
        await ProxySockets.WaitForPortAsync(port);

        CommandResult result = await CurlAsync("-x", ProxyUrl, "--cacert", cert, "-w", "\n%{http_code}", $"https://127.0.0.1:{port}/");

        Assert.Equal(0, result.ExitCode);
        Assert.EndsWith("\n200", result.StdOut);
        Assert.Contains("s_server", result.StdOut);
    }

    [Fact]
    public async Task Garbage_Returns400_AndGatewayKeepsServing()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _proxyPort);
        await socket.SendAsync("garbage\r\n\r\n"u8.ToArray());
        string answer = await ProxySockets.ReadToEndAsync(socket);

        CommandResult after = await CurlAsync("-x", ProxyUrl, "-o", "/dev/null", "-w", "%{http_code} %{size_download}", $"{_origin.Url}/bytes/1024");

        Assert.StartsWith("HTTP/1.1 400 ", answer);
        Assert.Equal("200 1024", after.StdOut);
        Assert.False(_gateway.HasExited);
    }

    private static async Task<CommandResult> CurlAsync(params string[] args) =>
        await ProcessRunner.RunAsync("curl", ["-s", "-S", "--max-time", "60", .. args], CurlTimeout);

    private static string Sha256(byte[] data) => Convert.ToHexStringLower(SHA256.HashData(data));
}
