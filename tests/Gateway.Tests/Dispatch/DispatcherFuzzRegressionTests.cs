using System.Diagnostics.Metrics;
using Gateway.Host.Dispatch;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Tests.Sdk;
using Gateway.Tests.Tun;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Dispatch;

/// <summary>Inputs the dispatch fuzz target found (docs/fuzzing.md), each kept as the behaviour it proves.</summary>
public sealed class DispatcherFuzzRegressionTests : IDisposable
{
    private readonly Meter _meter = new("Gateway.Tests.DispatcherFuzzRegression");

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void Outbound_RstToClosedVirtualPort_NoReplyButCountedAsDropped()
    {
        var device = new InMemoryTunDevice();
        var table = new RoutingTable();
        var dispatcher = new Dispatcher(device, table, _meter, NullLogger.Instance);
        device.Start(dispatcher);
        var guard = new PluginHandlerGuard("test", NullLogger.Instance, _meter);
        table.Add(new StreamBinding(NetEndpoint.Parse("10.0.0.2:7"), new NoStreams(), guard));

        // The SYN vector to 10.0.0.2:80 turned into an RST: RFC 9293 §3.10.7.1 forbids answering it with an RST.
        byte[] rst = PacketVectors.Bytes(PacketVectors.V4Syn);
        Assert.True(PacketClassifier.TryClassify(rst, out PacketInfo info));
        Span<byte> tcp = rst.AsSpan(info.TransportOffset, info.Length - info.TransportOffset);
        tcp[13] = (byte)TcpFlags.Rst;
        TcpHeader.UpdateChecksum(tcp, InternetChecksum.PseudoHeader(info.Source, info.Destination, IpProtocol.Tcp, tcp.Length));
        device.Read(rst);

        Assert.Empty(device.Written);
        Assert.Equal(1, dispatcher.Dropped(DropReason.NoErrorReply));
    }

    private sealed class NoStreams : IStreamHandler
    {
        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
