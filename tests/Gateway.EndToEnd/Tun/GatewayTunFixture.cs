using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// One published gateway for <see cref="GatewayTunTests"/>, running inside a namespace the fixture creates, with
/// the TUN on (gw0: 10.30.30.1/24, fd30::1/64), the admin listener on loopback inside the namespace and the sample
/// echo plugin serving <c>virtual: ["10.30.30.30:7", "[fd30::30]:7"]</c>.
/// </summary>
public sealed class GatewayTunFixture : IAsyncLifetime
{
    public const string VirtualV4 = "10.30.30.30";
    public const string VirtualV6 = "fd30::30";
    public const int EchoPort = 7;

    public NetworkNamespace Namespace { get; private set; } = null!;

    public GatewayProcess Gateway { get; private set; } = null!;

    /// <summary>The admin listener's port (127.0.0.1 inside the namespace).</summary>
    public int AdminPort { get; } = NetworkNamespace.RandomPort();

    public async Task InitializeAsync()
    {
        string plugins = Path.Combine(Path.GetTempPath(), "gateway-e2e", "tun-plugins-" + Guid.NewGuid().ToString("N")[..12]);
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), Path.Combine(plugins, "echo"));
        Namespace = await NetworkNamespace.CreateAsync("gwtun");
        try
        {
            Gateway = await GatewayProcess.StartAsync(
                $$"""
                host:
                  plugins: ["{{plugins}}"]
                  tun:
                    enabled: true
                    name: gw0
                    addresses: [10.30.30.1/24, "fd30::1/64"]
                  admin:
                    listen: 127.0.0.1:{{AdminPort}}
                echo:
                  virtual: ["{{VirtualV4}}:{{EchoPort}}", "[{{VirtualV6}}]:{{EchoPort}}"]
                """,
                netns: Namespace);
        }
        catch
        {
            await Namespace.DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        await Namespace.DisposeAsync();
    }

    /// <summary>Sum of <c>gateway_tun_dropped_total</c> over all reasons, read from /metrics inside the namespace.</summary>
    public Task<long> DroppedFromMetricsAsync(string? reason = null) => CounterFromMetricsAsync("gateway_tun_dropped_total", reason);

    /// <summary>Sum of counter <paramref name="name"/> over its series (or those with <paramref name="reason"/>), read from /metrics inside the namespace.</summary>
    public async Task<long> CounterFromMetricsAsync(string name, string? reason = null)
    {
        string text = await Namespace.ShCheckedAsync($"curl -sf --max-time 10 http://127.0.0.1:{AdminPort}/metrics");
        long total = 0;
        foreach (string line in text.Split('\n'))
        {
            if (!(line.StartsWith(name + " ", StringComparison.Ordinal) || line.StartsWith(name + "{", StringComparison.Ordinal)) ||
                (reason is not null && !line.Contains($"reason=\"{reason}\"", StringComparison.Ordinal)))
            {
                continue;
            }

            total += (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        return total;
    }
}
