using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Gateway.Host.Dispatch;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Host.Tun;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// The TUN dispatcher (host/Dispatch) with a UDP echo service and a TCP service on 10.30.30.30 / fd30::30, a kernel
/// listener for the TCP NAT and a prefix route 10.99.0.0/16 to a tunnel. An input is up to 8 packets, each
/// <c>[mode][length:2][packet]</c> (a plain packet without a header is taken as one outbound packet as it is).
/// Mode bits: 0 the packet comes from the tunnel rather than the TUN; 1 its checksums are fixed first; 2-3 its
/// destination is replaced (virtual IPv4, virtual IPv6, the routed prefix); 4 its source becomes the NAT listener.
/// </summary>
/// <remarks>
/// Invariants: every packet is accounted for (dropped and counted, answered, handed to a handler, NAT-rewritten or
/// routed), never thrown on; everything written back is a well-formed packet with correct checksums when the input's
/// were correct, and goes back the way its request came (to the TUN for host packets, to the tunnel for tunnel ones).
/// </remarks>
internal sealed class DispatchTarget : IFuzzTarget
{
    private const int MaxPackets = 8;
    private static readonly NetAddress VirtualV4 = NetAddress.Parse("10.30.30.30");
    private static readonly NetAddress VirtualV6 = NetAddress.Parse("fd30::30");
    private static readonly NetAddress Routed = NetAddress.Parse("10.99.0.5");
    private static readonly NetEndpoint ListenerV4 = NetEndpoint.Parse("10.30.30.1:5000");
    private static readonly NetEndpoint ListenerV6 = NetEndpoint.Parse("[fd30::1]:5000");

    private readonly byte[] _packet = new byte[1 << 16];

    public string Name => "dispatch";

    public string Description => "TUN dispatcher: virtual UDP/TCP/ICMP, NAT, routes; every packet accounted for";

    // One dispatcher per process: its NAT table alone is two 64k-entry port maps, too much to make per input. Each
    // input starts from an empty NAT table (Sweep at the end of time expires every session).
    private readonly Meter _meter = new("Gateway.Fuzz.Dispatch");
    private readonly RecordingDevice _device = new();
    private readonly RecordingRoute _tunnel = new();
    private readonly EchoService _service = new();
    private readonly Dispatcher _dispatcher;

    public DispatchTarget()
    {
        var table = new RoutingTable();
        _dispatcher = new Dispatcher(_device, table, _meter, NullLogger.Instance);
        _dispatcher.SetListeners(ListenerV4, ListenerV6);
        _device.Start(_dispatcher);
        var guard = new PluginHandlerGuard("fuzz", NullLogger.Instance, _meter);
        foreach (NetAddress address in (ReadOnlySpan<NetAddress>)[VirtualV4, VirtualV6])
        {
            foreach (ushort port in (ReadOnlySpan<ushort>)[53, 80])
            {
                table.Add(new DatagramBinding(new NetEndpoint(address, port), _service, guard));
                table.Add(new StreamBinding(new NetEndpoint(address, port), _service, guard));
            }
        }

        table.Add(new PrefixRoute(IpPrefix.Parse("10.99.0.0/16"), _tunnel, guard));
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        if (_dispatcher.Nat.Count > 0)
        {
            _dispatcher.Nat.Sweep(long.MaxValue);
        }

        _device.Written.Clear();
        _tunnel.Sent.Clear();
        Dispatcher dispatcher = _dispatcher;
        RecordingDevice device = _device;
        RecordingRoute tunnel = _tunnel;
        EchoService service = _service;
        bool framed = input.Length >= 3 && (input[0] >> 4) is not (4 or 6);
        for (int n = 0; n < MaxPackets && !input.IsEmpty; n++)
        {
            int mode = 0;
            ReadOnlySpan<byte> raw = input;
            if (framed)
            {
                if (input.Length < 3)
                {
                    break;
                }

                mode = input[0];
                int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[1..]), input.Length - 3);
                raw = input.Slice(3, length);
                input = input[(3 + length)..];
            }
            else
            {
                input = default;
            }

            Span<byte> packet = _packet.AsSpan(0, raw.Length);
            raw.CopyTo(packet);
            Prepare(packet, mode);
            bool fixedUp = (mode & 2) != 0;
            bool fromTunnel = (mode & 1) != 0;
            bool sourceIsListener = (mode & 0x10) != 0;
            NetAddress? source = PacketClassifier.TryClassify(packet, out PacketInfo sent) ? sent.Source : null;

            long before = dispatcher.DroppedTotal;
            int written = device.Written.Count, routed = tunnel.Sent.Count, handled = service.Calls;
            if (fromTunnel)
            {
                dispatcher.Deliver(packet, tunnel);
                dispatcher.Flush();
            }
            else
            {
                device.Read(packet);
            }

            bool accounted = dispatcher.DroppedTotal > before || device.Written.Count > written || tunnel.Sent.Count > routed || service.Calls > handled;
            Check(accounted, $"packet {n} (mode {mode:x2}) vanished: not dropped, answered, handled or routed");
            for (int i = written; i < device.Written.Count; i++)
            {
                byte[] output = device.Written[i];
                if (fromTunnel && packet.StartsWith(output))
                {
                    // Tunnel traffic for the host is forwarded as it came (cut to its IP length); the kernel judges it.
                    continue;
                }

                CheckWritten(output, fixedUp && !sourceIsListener, fromTunnel ? null : source, fromTunnel);
            }

            for (int i = routed; i < tunnel.Sent.Count; i++)
            {
                byte[] output = tunnel.Sent[i];
                if (!fromTunnel)
                {
                    Check(packet.StartsWith(output) && output.Length >= 20, "a routed packet is not the packet read from the TUN");
                    continue;
                }

                // Replies to tunnel packets go back into the tunnel, addressed to the sender.
                CheckWritten(output, fixedUp, source, fromTunnel: true);
            }
        }
    }

    /// <summary>Applies the mode: replaced addresses, then correct checksums when asked.</summary>
    private static void Prepare(Span<byte> packet, int mode)
    {
        if (packet.Length < 20)
        {
            return;
        }

        int version = packet[0] >> 4;
        int destination = (mode >> 2) & 3;
        if (version == 4)
        {
            if (destination is 1 or 2)
            {
                IPv4Header.SetDestination(packet, VirtualV4.V4Value);
            }
            else if (destination == 3)
            {
                IPv4Header.SetDestination(packet, Routed.V4Value);
            }

            if ((mode & 0x10) != 0)
            {
                IPv4Header.SetSource(packet, ListenerV4.Address.V4Value);
            }
        }
        else if (version == 6 && packet.Length >= 40)
        {
            if (destination != 0)
            {
                VirtualV6.WriteTo(packet[24..]);
            }

            if ((mode & 0x10) != 0)
            {
                ListenerV6.Address.WriteTo(packet[8..]);
            }
        }

        if ((mode & 0x10) != 0 && PacketClassifier.TryClassify(packet, out PacketInfo listener) && listener.Protocol == IpProtocol.Tcp)
        {
            TcpHeader.SetSourcePort(packet[listener.TransportOffset..], ListenerV4.Port);
        }

        if ((mode & 2) != 0)
        {
            FixChecksums(packet);
        }
    }

    private static void FixChecksums(Span<byte> packet)
    {
        if (packet[0] >> 4 == 4 && IPv4Header.HeaderLength(packet) is >= 20 and var headerLength && headerLength <= packet.Length)
        {
            IPv4Header.UpdateChecksum(packet);
        }

        if (!PacketClassifier.TryClassify(packet, out PacketInfo info))
        {
            return;
        }

        Span<byte> transport = packet[info.TransportOffset..info.Length];
        ulong pseudo = InternetChecksum.PseudoHeader(info.Source, info.Destination, info.Protocol, transport.Length);
        switch (info.Protocol)
        {
            case IpProtocol.Udp:
                UdpHeader.UpdateChecksum(transport, pseudo);
                break;
            case IpProtocol.Tcp:
                TcpHeader.UpdateChecksum(transport, pseudo);
                break;
            case IpProtocol.Icmp:
                IcmpHeader.UpdateChecksum(transport);
                break;
            case IpProtocol.IcmpV6:
                IcmpHeader.UpdateChecksum(transport, pseudo);
                break;
        }
    }

    private static void CheckWritten(byte[] packet, bool checksumsMatter, NetAddress? replyTo, bool fromTunnel)
    {
        PacketError error = PacketClassifier.Classify(packet, out PacketInfo info);
        Check(error == PacketError.None, $"wrote a packet the classifier refuses ({error})");
        Check(info.Length == packet.Length, "wrote bytes beyond the packet's own length");
        bool toListener = info.Destination == ListenerV4.Address || info.Destination == ListenerV6.Address;
        Check(replyTo is null || info.Destination == replyTo || toListener || (fromTunnel && info.Destination == Routed),
            $"a reply went to {info.Destination}, not back to {replyTo}");
        if (!checksumsMatter)
        {
            return;
        }

        Check(info.Version != 4 || IPv4Header.IsChecksumValid(packet), "wrote a bad IPv4 header checksum");
        ReadOnlySpan<byte> transport = packet.AsSpan(info.TransportOffset, info.Length - info.TransportOffset);
        ulong pseudo = InternetChecksum.PseudoHeader(info.Source, info.Destination, info.Protocol, transport.Length);
        bool valid = info.Protocol switch
        {
            IpProtocol.Udp => UdpHeader.IsChecksumValid(transport, pseudo, zeroAllowed: info.Version == 4),
            IpProtocol.Tcp => TcpHeader.IsChecksumValid(transport, pseudo),
            IpProtocol.Icmp => IcmpHeader.IsChecksumValid(transport),
            IpProtocol.IcmpV6 => IcmpHeader.IsChecksumValid(transport, pseudo),
            _ => true,
        };
        Check(valid, $"wrote a bad protocol {info.Protocol} checksum");
    }

    private sealed class RecordingDevice : ITunDevice
    {
        private readonly PacketBatch _batch = new(4, 1 << 17);
        private IPacketReceiver? _receiver;

        public string Name => "fuzz0";

        public int Mtu => 1420;

        public List<byte[]> Written { get; } = [];

        public void Start(IPacketReceiver receiver) => _receiver = receiver;

        public bool Write(ReadOnlySpan<byte> packet)
        {
            Written.Add(packet.ToArray());
            return true;
        }

        public void Read(ReadOnlySpan<byte> packet)
        {
            _batch.Clear();
            Check(_batch.TryAdd(packet), "the batch refused a packet");
            _receiver!.OnPackets(_batch);
        }

        public void Dispose()
        {
        }
    }

    private sealed class RecordingRoute : IPacketRoute
    {
        public string Name => "tunnel";

        public List<byte[]> Sent { get; } = [];

        public void Send(ReadOnlySpan<byte> packet) => Sent.Add(packet.ToArray());

        public void Flush()
        {
        }
    }

    private sealed class EchoService : IDatagramHandler, IStreamHandler
    {
        public int Calls { get; private set; }

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            Calls++;
            request.Reply(payload);
        }

        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
