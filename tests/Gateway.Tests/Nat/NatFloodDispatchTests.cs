using System.Diagnostics.Metrics;
using Gateway.Host.Dispatch;
using Gateway.Host.Nat;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Tests.Tun;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Nat;

/// <summary>A SYN flood through the dispatcher: held to the source's cap, each recycled handshake reset on the kernel side.</summary>
public sealed class NatFloodDispatchTests : IDisposable
{
    private static readonly NetEndpoint Listener = NetEndpoint.Parse("10.30.30.1:5000");
    private static readonly NetEndpoint Virtual = NetEndpoint.Parse("10.0.0.2:80");

    private readonly Meter _meter = new("Gateway.Host.Tests.NatFlood");
    private readonly InMemoryTunDevice _device = new();
    private readonly RoutingTable _table = new();
    private readonly Dispatcher _dispatcher;

    public NatFloodDispatchTests()
    {
        _dispatcher = new Dispatcher(_device, _table, _meter, NullLogger.Instance, NatLimits.Default with { MaxPerSource = 50 });
        _dispatcher.SetListeners(Listener, null);
        _device.Start(_dispatcher);
        _table.Add(new StreamBinding(Virtual, new NoopHandler(), new PluginHandlerGuard("test", NullLogger.Instance, _meter)));
    }

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void SynFlood_OneSourcePastItsCap_OwnHandshakesResetTowardsKernelAndAnotherSourceStillServed()
    {
        var forwardedPorts = new List<ushort>();
        for (int i = 0; i < 200; i++)
        {
            _device.Read(Syn("10.0.0.66", (ushort)(20000 + i), isn: 1000u * (uint)i));
            if (i >= 50)
            {
                // The flooder's oldest handshake is reset on the kernel side (seq = its ISN + 1) before its port is reused.
                byte[] rst = _device.TakeWritten();
                Assert.True(PacketClassifier.TryClassify(rst, out PacketInfo reset));
                Span<byte> tcp = rst.AsSpan(reset.TransportOffset);
                Assert.Equal(TcpFlags.Rst, TcpHeader.Flags(tcp));
                Assert.Equal(Virtual.Address, reset.Source);
                Assert.Equal(forwardedPorts[i - 50], reset.SourcePort);
                Assert.Equal(Listener.Address, reset.Destination);
                Assert.Equal(Listener.Port, reset.DestinationPort);
                Assert.Equal((1000u * (uint)(i - 50)) + 1, TcpHeader.SequenceNumber(tcp));
                Assert.True(TcpHeader.IsChecksumValid(tcp, InternetChecksum.PseudoHeaderV4(rst, IpProtocol.Tcp, rst.Length - 20)));
            }

            byte[] forward = _device.TakeWritten();
            Assert.True(PacketClassifier.TryClassify(forward, out PacketInfo info));
            Assert.Equal(Listener.Port, info.DestinationPort);
            forwardedPorts.Add(info.SourcePort);
        }

        Assert.Equal(50, _dispatcher.Nat.LiveSessionsOf(NetAddress.Parse("10.0.0.66")));
        Assert.Equal(150, _dispatcher.Nat.EvictedForSource);

        // Another source's SYN still reaches the kernel listener, nothing was dropped.
        _device.Read(Syn("10.0.0.7", 40000, isn: 5));
        byte[] other = _device.TakeWritten();
        Assert.True(PacketClassifier.TryClassify(other, out PacketInfo otherInfo));
        Assert.Equal(Listener.Address, otherInfo.Destination);
        Assert.NotNull(_dispatcher.Nat.Find(NetEndpoint.Parse("10.0.0.7:40000"), Virtual));
        Assert.Equal(0, _dispatcher.DroppedTotal);
        Assert.True(_device.Written.IsEmpty);
    }

    [Fact]
    public void SynFlood_SourceAtCapAllEstablished_NewSynDroppedAndCountedAsSourceLimit()
    {
        for (int i = 0; i < 50; i++)
        {
            _device.Read(Syn("10.0.0.66", (ushort)(20000 + i), isn: 1));
            _device.TakeWritten();
            _device.Read(Segment("10.0.0.66", (ushort)(20000 + i), 2, TcpFlags.Ack));
            _device.TakeWritten();
        }

        _device.Read(Syn("10.0.0.66", 30000, isn: 1));
        Assert.True(_device.Written.IsEmpty);
        Assert.Equal(1, _dispatcher.Dropped(DropReason.NatSourceLimit));
    }

    private static byte[] Syn(string client, ushort port, uint isn) => Segment(client, port, isn, TcpFlags.Syn);

    private static byte[] Segment(string client, ushort port, uint sequence, TcpFlags flags)
    {
        byte[] packet = new byte[40];
        int length = ReplyBuilder.Tcp(NetAddress.Parse(client), port, Virtual.Address, Virtual.Port, sequence, flags == TcpFlags.Ack ? 1u : 0u, flags, packet);
        return packet[..length];
    }

    private sealed class NoopHandler : IStreamHandler
    {
        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
