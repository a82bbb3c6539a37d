using Gateway.Host.Nat;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Nat;

public sealed class NatTableTests
{
    private static readonly NetEndpoint Virtual = NetEndpoint.Parse("10.30.30.30:7");

    [Fact]
    public void Create_ManySessions_UniquePortsAndFindableBothWays()
    {
        var table = new NatTable();
        StreamBinding binding = Binding();
        var ports = new HashSet<ushort>();
        for (int i = 0; i < 5000; i++)
        {
            var client = new NetEndpoint(NetAddress.Parse("10.30.30.1"), (ushort)(20000 + i));
            NatEntry entry = table.Create(client, Virtual, binding, null)!;
            Assert.True(ports.Add(entry.NatPort), $"port {entry.NatPort} allocated twice");
            Assert.Same(entry, table.Find(client, Virtual));
            Assert.Same(entry, table.FindByPort(false, entry.NatPort));
        }

        Assert.Equal(5000, table.Count);
    }

    [Fact]
    public void Sweep_ClosedSessionAfterDeadline_RemovedAndPortFreed()
    {
        var table = new NatTable();
        var client = NetEndpoint.Parse("10.30.30.1:40000");
        NatEntry entry = table.Create(client, Virtual, Binding(), null)!;
        table.Observe(entry, fromClient: true, TcpFlags.Rst);
        Assert.Equal(NatState.Closed, entry.State);

        Assert.Equal(0, table.Sweep(Environment.TickCount64));
        Assert.Equal(1, table.Sweep(Environment.TickCount64 + (long)TimeSpan.FromMinutes(2).TotalMilliseconds));
        Assert.Null(table.Find(client, Virtual));
        Assert.Null(table.FindByPort(false, entry.NatPort));
    }

    [Fact]
    public void Observe_FinBothWays_ClosedAndEstablishedOnHandshakeAck()
    {
        var table = new NatTable();
        NatEntry entry = table.Create(NetEndpoint.Parse("10.30.30.1:40000"), Virtual, Binding(), null)!;
        table.Observe(entry, fromClient: true, TcpFlags.Ack);
        Assert.Equal(NatState.Established, entry.State);
        table.Observe(entry, fromClient: true, TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(NatState.HalfClosed, entry.State);
        table.Observe(entry, fromClient: false, TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(NatState.Closed, entry.State);
    }

    private static StreamBinding Binding()
    {
        using var meter = new System.Diagnostics.Metrics.Meter("Gateway.Host.Tests.Nat");
        return new StreamBinding(Virtual, new NoopHandler(), new PluginHandlerGuard("t", NullLogger.Instance, meter));
    }

    private sealed class NoopHandler : IStreamHandler
    {
        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
