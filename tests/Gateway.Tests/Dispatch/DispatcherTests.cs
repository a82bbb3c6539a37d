using System.Diagnostics.Metrics;
using Gateway.Host.Dispatch;
using Gateway.Host.Nat;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Sdk.Routing;
using Gateway.Tests.Sdk;
using Gateway.Tests.Tun;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Dispatch;

public sealed class DispatcherTests : IDisposable
{
    private static readonly NetEndpoint Listener = NetEndpoint.Parse("10.30.30.1:5000");

    private readonly Meter _meter = new("Gateway.Host.Tests.Dispatch");
    private readonly InMemoryTunDevice _device = new();
    private readonly RoutingTable _table = new();
    private readonly Dispatcher _dispatcher;
    private readonly PluginHandlerGuard _guard;

    public DispatcherTests()
    {
        _dispatcher = new Dispatcher(_device, _table, _meter, NullLogger.Instance);
        _dispatcher.SetListeners(Listener, null);
        _device.Start(_dispatcher);
        _guard = new PluginHandlerGuard("test", NullLogger.Instance, _meter);
    }

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void Outbound_PingV4ToVirtualIp_EchoReplyWithPythonChecksum()
    {
        BindEcho("10.30.30.30:7");
        _device.Read(PacketVectors.Bytes(PacketVectors.V4Ping));

        byte[] reply = _device.TakeWritten();
        Assert.True(PacketClassifier.TryClassify(reply, out PacketInfo info));
        Assert.Equal(NetAddress.Parse("10.30.30.30"), info.Source);
        Assert.Equal(NetAddress.Parse("10.0.0.1"), info.Destination);
        Assert.Equal(IcmpHeader.V4EchoReply, reply[20]);
        Assert.Equal(0x2ef8, IcmpHeader.Checksum(reply.AsSpan(20)));
        Assert.True(IPv4Header.IsChecksumValid(reply));
    }

    [Fact]
    public void Outbound_PingV6ToVirtualIp_EchoReplyWithPythonChecksum()
    {
        BindEcho("[fd30::30]:7");
        _device.Read(PacketVectors.Bytes(PacketVectors.V6Ping));

        byte[] reply = _device.TakeWritten();
        Assert.Equal(IcmpHeader.V6EchoReply, reply[40]);
        Assert.Equal(NetAddress.Parse("fd30::30"), IPv6Header.Source(reply));
        Assert.Equal(0x4dbf, IcmpHeader.Checksum(reply.AsSpan(40)));
    }

    [Fact]
    public void Outbound_UdpToVirtualEndpoint_HandlerRepliesWithSwappedAddressesAndValidChecksums()
    {
        var handler = BindEcho("10.0.0.53:53");
        _device.Read(PacketVectors.Bytes(PacketVectors.V4Udp));

        Assert.Equal(NetEndpoint.Parse("10.0.0.1:53000"), handler.LastClient);
        Assert.Equal(PacketOrigin.Tun, handler.LastOrigin);
        Assert.Equal(1420 - 28, handler.LastMaxReplySize);
        byte[] reply = _device.TakeWritten();
        Assert.True(PacketClassifier.TryClassify(reply, out PacketInfo info));
        Assert.Equal(NetAddress.Parse("10.0.0.53"), info.Source);
        Assert.Equal(53, info.SourcePort);
        Assert.Equal(53000, info.DestinationPort);
        Assert.True(IPv4Header.IsChecksumValid(reply));
        Assert.True(UdpHeader.IsChecksumValid(reply.AsSpan(20), InternetChecksum.PseudoHeaderV4(reply, IpProtocol.Udp, reply.Length - 20), zeroAllowed: false));
        Assert.Equal(PacketVectors.Bytes(PacketVectors.V4Udp).AsSpan(28).ToArray(), reply.AsSpan(28).ToArray());
    }

    [Fact]
    public void Outbound_UdpToClosedPort_IcmpPortUnreachableQuotingTheDatagram()
    {
        BindEcho("10.0.0.53:7");
        byte[] request = PacketVectors.Bytes(PacketVectors.V4Udp);
        _device.Read(request);

        byte[] reply = _device.TakeWritten();
        Assert.Equal(IpProtocol.Icmp, IPv4Header.Protocol(reply));
        Assert.Equal(IcmpHeader.V4DestinationUnreachable, reply[20]);
        Assert.Equal(IcmpHeader.V4PortUnreachableCode, reply[21]);
        Assert.True(IcmpHeader.IsChecksumValid(reply.AsSpan(20)));
        Assert.Equal(request, reply.AsSpan(28).ToArray());
    }

    [Fact]
    public void Outbound_SynToClosedTcpPort_RstAcknowledgingTheSyn()
    {
        BindEcho("10.0.0.2:7");
        _device.Read(PacketVectors.Bytes(PacketVectors.V4Syn));

        byte[] reply = _device.TakeWritten();
        Span<byte> tcp = reply.AsSpan(20);
        Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, TcpHeader.Flags(tcp));
        Assert.Equal(0x12345678u + 1, TcpHeader.AcknowledgmentNumber(tcp));
        Assert.Equal(80, TcpHeader.SourcePort(tcp));
        Assert.Equal(40000, TcpHeader.DestinationPort(tcp));
        Assert.True(TcpHeader.IsChecksumValid(tcp, InternetChecksum.PseudoHeaderV4(reply, IpProtocol.Tcp, tcp.Length)));
    }

    [Fact]
    public void Outbound_NoVirtualIpNoRoute_DroppedAndCounted()
    {
        _device.Read(PacketVectors.Bytes(PacketVectors.V4Udp), PacketVectors.Bytes(PacketVectors.V6Udp), [0x00, 0x01]);
        Assert.Empty(_device.Written);
        Assert.Equal(2, _dispatcher.Dropped(DropReason.NoRoute));
        Assert.Equal(1, _dispatcher.Dropped(DropReason.BadVersion));
    }

    [Fact]
    public void Outbound_PrefixRoutes_LongestPrefixWinsAndRouteIsFlushedOncePerBatch()
    {
        var wide = new RecordingRoute("wide");
        var narrow = new RecordingRoute("narrow");
        _table.Add(new PrefixRoute(IpPrefix.Parse("10.0.0.0/8"), wide, _guard));
        _table.Add(new PrefixRoute(IpPrefix.Parse("10.0.0.0/30"), narrow, _guard));
        _table.Add(new PrefixRoute(IpPrefix.Parse("fd00::/64"), wide, _guard));

        // 10.0.0.53 → /8; 10.0.0.2 → /30; fd00::53 → v6 /64.
        _device.Read(PacketVectors.Bytes(PacketVectors.V4Udp), PacketVectors.Bytes(PacketVectors.V4Syn), PacketVectors.Bytes(PacketVectors.V6Udp));
        Assert.Equal(2, wide.Sent.Count);
        Assert.Single(narrow.Sent);
        Assert.Equal(1, wide.Flushes);
        Assert.Equal(PacketVectors.Bytes(PacketVectors.V4Syn), narrow.Sent[0]);
    }

    [Fact]
    public void Inbound_PingFromTunnel_ReplyGoesBackToTheTunnelNotTheTun()
    {
        BindEcho("10.30.30.30:7");
        var tunnel = new RecordingRoute("wireguard");
        _dispatcher.Deliver(PacketVectors.Bytes(PacketVectors.V4Ping), tunnel);

        Assert.Empty(_device.Written);
        byte[] reply = Assert.Single(tunnel.Sent);
        Assert.Equal(IcmpHeader.V4EchoReply, reply[20]);
    }

    [Fact]
    public void Inbound_UdpFromTunnel_HandlerSeesTunnelOriginAndReplyGoesToTunnel()
    {
        var handler = BindEcho("10.0.0.53:53");
        var tunnel = new RecordingRoute("wireguard");
        _dispatcher.Deliver(PacketVectors.Bytes(PacketVectors.V4Udp), tunnel);

        Assert.Equal(PacketOrigin.Tunnel, handler.LastOrigin);
        Assert.Single(tunnel.Sent);
        Assert.Empty(_device.Written);
    }

    [Fact]
    public void Inbound_NotVirtual_WrittenToTun()
    {
        var tunnel = new RecordingRoute("wireguard");
        byte[] packet = PacketVectors.Bytes(PacketVectors.V6Tcp);
        _dispatcher.Deliver(packet, tunnel);
        Assert.Equal(packet, _device.TakeWritten());
    }

    [Fact]
    public void Inbound_AclHookDrops_CountedAndNotDelivered()
    {
        _table.Add(new HookBinding(new DropInboundHook(), _guard));
        _dispatcher.Deliver(PacketVectors.Bytes(PacketVectors.V6Tcp), new RecordingRoute("wireguard"));
        _device.Read(PacketVectors.Bytes(PacketVectors.V6Tcp));

        Assert.Equal(1, _dispatcher.Dropped(DropReason.Hook));
        Assert.Equal(1, _dispatcher.Dropped(DropReason.NoRoute));
        Assert.Empty(_device.Written);
    }

    [Fact]
    public void Outbound_BadChecksums_DroppedAndCounted()
    {
        BindEcho("10.0.0.53:53");
        byte[] badUdp = PacketVectors.Bytes(PacketVectors.V4Udp);
        badUdp[^1] ^= 0xFF;
        byte[] badIp = PacketVectors.Bytes(PacketVectors.V4Udp);
        badIp[8] = 1; // TTL changed without fixing the header checksum
        _device.Read(badUdp, badIp);

        Assert.Empty(_device.Written);
        Assert.Equal(2, _dispatcher.Dropped(DropReason.BadChecksum));
    }

    [Fact]
    public void TcpNat_SynAndReply_RewrittenBothWaysWithValidChecksums()
    {
        BindEcho("10.0.0.2:80");
        _device.Read(PacketVectors.Bytes(PacketVectors.V4Syn));

        // Client 10.0.0.1:40000 → 10.0.0.2:80 became 10.0.0.2:<nat> → listener 10.30.30.1:5000.
        byte[] towardsKernel = _device.TakeWritten();
        Assert.True(PacketClassifier.TryClassify(towardsKernel, out PacketInfo forward));
        Assert.Equal(NetAddress.Parse("10.0.0.2"), forward.Source);
        Assert.Equal(Listener.Address, forward.Destination);
        Assert.Equal(Listener.Port, forward.DestinationPort);
        ushort natPort = forward.SourcePort;
        Assert.True(natPort >= NatTable.FirstPort);
        AssertTcpChecksumsValid(towardsKernel);

        // The kernel's SYN-ACK 10.30.30.1:5000 → 10.0.0.2:<nat> goes back as 10.0.0.2:80 → 10.0.0.1:40000.
        byte[] synAck = new byte[40];
        ReplyBuilder.Tcp(Listener.Address, Listener.Port, NetAddress.Parse("10.0.0.2"), natPort, 777, 0x12345679, TcpFlags.Syn | TcpFlags.Ack, synAck);
        _device.Read(synAck);
        byte[] towardsClient = _device.TakeWritten();
        Assert.True(PacketClassifier.TryClassify(towardsClient, out PacketInfo reverse));
        Assert.Equal(NetAddress.Parse("10.0.0.2"), reverse.Source);
        Assert.Equal(80, reverse.SourcePort);
        Assert.Equal(NetAddress.Parse("10.0.0.1"), reverse.Destination);
        Assert.Equal(40000, reverse.DestinationPort);
        AssertTcpChecksumsValid(towardsClient);

        NatEntry? entry = _dispatcher.Nat.FindByPort(false, natPort);
        Assert.NotNull(entry);
        Assert.Equal(NetEndpoint.Parse("10.0.0.1:40000"), entry.Client);
        Assert.Equal(NetEndpoint.Parse("10.0.0.2:80"), entry.Virtual);
    }

    [Fact]
    public void TcpNat_UnknownNonSyn_AnsweredWithRst()
    {
        BindEcho("[fd00::2]:80");
        _device.Read(PacketVectors.Bytes(PacketVectors.V6Tcp));

        byte[] reply = _device.TakeWritten();
        Span<byte> tcp = reply.AsSpan(40);
        Assert.Equal(TcpFlags.Rst, TcpHeader.Flags(tcp));
        Assert.Equal(2000u, TcpHeader.SequenceNumber(tcp));
    }

    [Fact]
    public void Snapshot_BindTwice_SecondBindingRefused()
    {
        BindEcho("10.0.0.53:53");
        Assert.Throws<System.Net.Sockets.SocketException>(() => BindEcho("10.0.0.53:53"));
    }

    private static void AssertTcpChecksumsValid(byte[] packet)
    {
        Assert.True(IPv4Header.IsChecksumValid(packet));
        Assert.True(TcpHeader.IsChecksumValid(packet.AsSpan(20), InternetChecksum.PseudoHeaderV4(packet, IpProtocol.Tcp, packet.Length - 20)));
    }

    private EchoHandler BindEcho(string endpoint)
    {
        var handler = new EchoHandler();
        NetEndpoint parsed = NetEndpoint.Parse(endpoint);
        _table.Add(new DatagramBinding(parsed, handler, _guard));
        _table.Add(new StreamBinding(parsed, handler, _guard));
        return handler;
    }

    private sealed class EchoHandler : IDatagramHandler, IStreamHandler
    {
        public NetEndpoint LastClient { get; private set; }

        public PacketOrigin LastOrigin { get; private set; }

        public int LastMaxReplySize { get; private set; }

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            LastClient = request.Client;
            LastOrigin = request.Origin;
            LastMaxReplySize = request.MaxReplySize;
            Assert.True(request.Reply(payload));
        }

        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class RecordingRoute(string name) : IPacketRoute
    {
        public string Name { get; } = name;

        public List<byte[]> Sent { get; } = new();

        public int Flushes { get; private set; }

        public void Send(ReadOnlySpan<byte> packet) => Sent.Add(packet.ToArray());

        public void Flush() => Flushes++;
    }

    private sealed class DropInboundHook : IPacketHook
    {
        public HookResult OnPacket(PacketDirection direction, Span<byte> packet, IPacketRoute? origin) =>
            direction == PacketDirection.Inbound ? HookResult.Drop : HookResult.Continue;
    }
}
