using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Host.Plugins;
using Gateway.Host.Sockets;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Plugins;

public sealed class PluginContextTests : IDisposable
{
    private readonly Meter _meter = new("Gateway.Tests.PluginContext");

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void DisposeRegistrations_BindingsLeftByPlugin_FreesTheirPorts()
    {
        int port = FreeTcpPort();
        PluginContext context = CreateContext(port);

        context.BindStream(context.ConfiguredEndpoints[0], new NothingHandler());
        Assert.Single(context.Bindings);

        context.DisposeRegistrations();

        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(new IPEndPoint(IPAddress.Loopback, port));
        Assert.Empty(context.Bindings);
    }

    [Fact]
    public void BindDatagram_VirtualEndpointWithTunDisabled_IsAcceptedAndNotServed()
    {
        PluginContext context = CreateContext(FreeTcpPort());
        var virtualEndpoint = new ServiceEndpoint(EndpointKind.Virtual, NetEndpoint.Parse("10.30.30.30:53"));

        using IDisposable registration = context.BindDatagram(virtualEndpoint, new NothingHandler());

        Assert.Null(context.Tun);
        Assert.Equal("udp", Assert.Single(context.Bindings).Protocol);
    }

    [Fact]
    public void Stopping_SignalStopping_IsCancelled()
    {
        PluginContext context = CreateContext(FreeTcpPort());

        context.SignalStopping();

        Assert.True(context.Stopping.IsCancellationRequested);
    }

    [Fact]
    public void Meter_IsNamedAfterThePlugin()
    {
        PluginContext context = CreateContext(FreeTcpPort());

        Assert.Equal("Gateway.Plugins.test", context.Meter.Name);
        context.DisposeRegistrations();
    }

    private PluginContext CreateContext(int port)
    {
        var section = new PluginSectionOptions { Id = "test", Limits = new LimitsOptions() };
        section.Endpoints.Add(new ServiceEndpoint(EndpointKind.HostSocket, new NetEndpoint(NetAddress.Parse("127.0.0.1"), (ushort)port)));
        var configuration = GatewayConfigurationProvider.Build(new Dictionary<string, string?> { ["test:greeting"] = "hi" }, out _);
        return new PluginContext(
            "test",
            section,
            new PluginConfigurationSection(configuration.GetSection("test")),
            "/etc/gateway",
            "/opt/plugins/test",
            NullLoggerFactory.Instance,
            new DisabledVirtualNetwork(NullLogger.Instance),
            new HostSockets(NullLoggerFactory.Instance, _meter),
            new PluginHandlerGuard("test", NullLogger.Instance, _meter));
    }

    private static int FreeTcpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private sealed class NothingHandler : IStreamHandler, IDatagramHandler
    {
        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
        }
    }
}
