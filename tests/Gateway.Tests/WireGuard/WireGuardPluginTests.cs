using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Gateway.Plugins.WireGuard;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.WireGuard;

public sealed class WireGuardPluginTests
{
    private const string PrivateKey = "YNqHbfBQKaGvzefSSsT7bPK8MOCQWrkzvNgoqc8mKnE=";
    private const string PeerKey = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

    [Fact]
    public async Task StartAsync_WithoutTun_StaysIdle()
    {
        var context = new FakeContext(Config(0), tun: null);
        var plugin = new WireGuardPlugin();
        await plugin.StartAsync(context, CancellationToken.None);
        Assert.Empty(context.Routes);
        Assert.Empty(context.Protected);
        await plugin.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task StartAsync_WithTun_SocketsProtectedRoutesAddedUapiServed()
    {
        string name = $"gwt{Random.Shared.Next(10000, 99999)}";
        var context = new FakeContext(Config(0), new FakeTun(name));
        var plugin = new WireGuardPlugin();
        await plugin.StartAsync(context, CancellationToken.None);
        try
        {
            Assert.NotEmpty(context.Protected);
            Assert.Contains(IpPrefix.Parse("10.99.0.2/32"), context.Routes.Keys);
            Assert.Contains(IpPrefix.Parse("fd99::2/128"), context.Routes.Keys);
            Assert.True(File.Exists($"/var/run/wireguard/{name}.sock"));
        }
        finally
        {
            await plugin.StopAsync(CancellationToken.None);
        }

        Assert.False(File.Exists($"/var/run/wireguard/{name}.sock"));
        Assert.Empty(context.Routes);
    }

    [Fact]
    public async Task Swap_ReleaseThenNewVersionStarts_NewOneOwnsPortUapiAndRoutes()
    {
        string name = $"gwt{Random.Shared.Next(10000, 99999)}";
        int port = FreeUdpPort();
        var oldContext = new FakeContext(Config(port), new FakeTun(name));
        var old = new WireGuardPlugin();
        await old.StartAsync(oldContext, CancellationToken.None);

        await old.ReleaseExclusiveResourcesAsync(CancellationToken.None);

        Assert.True(UdpPortFree(port), "the released version still holds its UDP port");
        Assert.False(File.Exists($"/var/run/wireguard/{name}.sock"));
        Assert.Empty(oldContext.Routes);
        var freshContext = new FakeContext(Config(port), new FakeTun(name));
        var fresh = new WireGuardPlugin();
        await fresh.StartAsync(freshContext, CancellationToken.None);
        try
        {
            Assert.False(UdpPortFree(port));
            Assert.True(File.Exists($"/var/run/wireguard/{name}.sock"));
            Assert.Contains(IpPrefix.Parse("10.99.0.2/32"), freshContext.Routes.Keys);

            // The old version drains and stops: nothing of the new one's goes with it.
            await old.StopAsync(CancellationToken.None);
            Assert.True(File.Exists($"/var/run/wireguard/{name}.sock"));
            Assert.False(UdpPortFree(port));
        }
        finally
        {
            await fresh.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Swap_NewVersionCannotStart_OldReclaimsPortUapiAndRoutesWithItsPeers()
    {
        string name = $"gwt{Random.Shared.Next(10000, 99999)}";
        int port = FreeUdpPort();
        var oldContext = new FakeContext(Config(port), new FakeTun(name));
        var old = new WireGuardPlugin();
        await old.StartAsync(oldContext, CancellationToken.None);
        try
        {
            await old.ReleaseExclusiveResourcesAsync(CancellationToken.None);

            // The new version fails to start (here: someone else took the port meanwhile).
            using (var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
            {
                squatter.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Any, port));
                var fresh = new WireGuardPlugin();
                await Assert.ThrowsAsync<SocketException>(() => fresh.StartAsync(new FakeContext(Config(port), new FakeTun(name)), CancellationToken.None));
                await fresh.StopAsync(CancellationToken.None);
            }

            await old.ReclaimExclusiveResourcesAsync(CancellationToken.None);

            Assert.False(UdpPortFree(port), "the old version did not bind its UDP port again");
            Assert.True(File.Exists($"/var/run/wireguard/{name}.sock"));
            Assert.Contains(IpPrefix.Parse("10.99.0.2/32"), oldContext.Routes.Keys);
            Assert.Equal(PeerKey, Assert.Single(old.Device!.Peers).PublicKeyBase64);
            Assert.True(old.Device.IsUp);
        }
        finally
        {
            await old.StopAsync(CancellationToken.None);
        }

        Assert.True(UdpPortFree(port));
        Assert.False(File.Exists($"/var/run/wireguard/{name}.sock"));
    }

    private static int FreeUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Any, 0));
        return ((System.Net.IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static bool UdpPortFree(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [Fact]
    public void Validate_BadKey_ReportedWithKeyPath()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["privateKey"] = "nope" }).Build();
        var validation = new PluginValidationContext("wireguard", config, "/tmp");
        new WireGuardPlugin().Validate(validation);
        Assert.Equal("privateKey", Assert.Single(validation.Errors).KeyPath);
    }

    private static IConfiguration Config(int port) => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["privateKey"] = PrivateKey,
        ["listenPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["peers:0:publicKey"] = PeerKey,
        ["peers:0:allowedIps:0"] = "10.99.0.2/32",
        ["peers:0:allowedIps:1"] = "fd99::2/128",
    }).Build();

    private sealed class FakeTun(string name) : ITunInfo
    {
        public string Name => name;

        public IReadOnlyList<IpPrefix> Addresses => [IpPrefix.Parse("10.99.0.1/24")];

        public int Mtu => 1420;
    }

    private sealed class FakeContext(IConfiguration configuration, ITunInfo? tun) : IPluginContext, IPacketInjector
    {
        public Dictionary<IpPrefix, IPacketRoute> Routes { get; } = new();

        public List<Socket> Protected { get; } = new();

        public string PluginId => "wireguard";

        public IConfiguration Configuration => configuration;

        public string ConfigDirectory => "/tmp";

        public string PluginDirectory => "/tmp";

        public ILoggerFactory LoggerFactory => NullLoggerFactory.Instance;

        public Meter Meter { get; } = new("test.wireguard");

        public IReadOnlyList<ServiceEndpoint> ConfiguredEndpoints => [];

        public ITunInfo? Tun => tun;

        public CancellationToken Stopping => CancellationToken.None;

        public IPacketInjector Inbound => this;

        public IDisposable AddRoute(IpPrefix prefix, IPacketRoute route)
        {
            Routes[prefix] = route;
            return new Undo(() => Routes.Remove(prefix));
        }

        public void ProtectSocket(Socket socket) => Protected.Add(socket);

        public IDisposable BindDatagram(ServiceEndpoint endpoint, IDatagramHandler handler) => throw new NotSupportedException();

        public IDisposable BindStream(ServiceEndpoint endpoint, IStreamHandler handler) => throw new NotSupportedException();

        public IDisposable AddPacketHook(IPacketHook hook) => throw new NotSupportedException();

        public void Deliver(Span<byte> packet, IPacketRoute origin)
        {
        }

        public void Flush()
        {
        }

        private sealed class Undo(Action action) : IDisposable
        {
            public void Dispose() => action();
        }
    }
}
