using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Host;

/// <summary>
/// Type=notify (issue 17): the published gateway, with NOTIFY_SOCKET pointing at this test's own datagram socket as
/// systemd would set it, says READY=1 only once every plugin started (/readyz is already 200 then), pings the
/// watchdog when WATCHDOG_USEC asks, and says STOPPING=1 on SIGTERM.
/// </summary>
public sealed class SystemdNotifyTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task NotifySocket_StartAndSigterm_ReadyAfterEveryPluginThenWatchdogThenStopping()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "notify-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        string socketPath = Path.Combine(folder, "notify.sock");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        int adminPort = EchoClient.FreePort();
        string config = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, $"host:\n  admin:\n    listen: 127.0.0.1:{adminPort}\nhttp-proxy:\n  listen: [127.0.0.1:{EchoClient.FreePort()}]\n");
        string exe = Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "gateway");
        var environment = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = socketPath, ["WATCHDOG_USEC"] = "1000000" };

        await using BackgroundProcess gateway = BackgroundProcess.Start(exe, ["run", "--config", config], environment, "gateway", folder);

        Assert.Contains("READY=1", await ReceiveAsync(socket, "READY=1"));
        using (var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }))
        {
            // At READY=1 every plugin is already running (asked right after, before anything else could start one).
            using HttpResponseMessage plugins = await http.GetAsync($"http://127.0.0.1:{adminPort}/api/v1/plugins");
            Assert.Equal(HttpStatusCode.OK, plugins.StatusCode);
            using (System.Text.Json.JsonDocument list = System.Text.Json.JsonDocument.Parse(await plugins.Content.ReadAsStringAsync()))
            {
                string[] states = list.RootElement.GetProperty("plugins").EnumerateArray().Select(p => $"{p.GetProperty("id").GetString()} {p.GetProperty("state").GetString()}").Order().ToArray();
                Assert.Equal(["dns-dot running", "http-proxy running", "wireguard running"], states);
            }

            using HttpResponseMessage ready = await http.GetAsync($"http://127.0.0.1:{adminPort}/readyz");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        await gateway.WaitForOutputAsync("gateway ready", Patience);
        foreach (string id in new[] { "dns-dot", "http-proxy", "wireguard" })
        {
            Assert.Contains($"plugin {id}: started", gateway.Output);
        }

        Assert.Equal("WATCHDOG=1", await ReceiveAsync(socket, "WATCHDOG=1"));

        await gateway.StopAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("STOPPING=1", await ReceiveAsync(socket, "STOPPING=1"));
        Assert.Equal(0, gateway.ExitCode);
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>Receives datagrams until one contains <paramref name="needle"/>.</summary>
    private static async Task<string> ReceiveAsync(Socket socket, string needle)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Patience);
        while (true)
        {
            int length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            string message = Encoding.UTF8.GetString(buffer, 0, length);
            if (message.Contains(needle, StringComparison.Ordinal))
            {
                return message;
            }
        }
    }
}
