using System.Buffers;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Gateway.Host.Nat;
using Gateway.Host.Routing;
using Gateway.Host.Tun;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Dispatch;

/// <summary>
/// The packet dispatcher of DESIGN §2. Outbound (read from the TUN): hooks → virtual-IP intercept →
/// prefix routes → else drop. Inbound (delivered by a tunnel plugin): hooks (the ACL) → virtual-IP
/// intercept → TUN. Packets for virtual IPs are answered here: UDP through the plugin's datagram handler,
/// TCP through the kernel-NAT of <see cref="NatTable"/>, ICMP echo inline; closed ports get port
/// unreachable / RST. Every reply goes back the way its request came.
/// </summary>
internal sealed class Dispatcher : IPacketReceiver, IPacketInjector, IDatagramResponder, IDatagramBatchParticipant
{
    private const int MaxTouchedRoutes = 8;

    // RFC 4443 §2.4(f): ICMP errors (and our RSTs) are rate limited; a token bucket per second.
    private const int ErrorsPerSecond = 2000;

    private readonly ITunDevice _device;
    private readonly RoutingTable _table;
    private readonly ILogger _logger;
    private readonly Counter<long> _dropped;
    private readonly long[] _drops = new long[DropReasons.Count];
    private readonly IPacketRoute?[] _touched = new IPacketRoute?[MaxTouchedRoutes];
    private int _touchedCount;

    // The managed thread id of the TUN read loop while it is inside OnPackets (0 otherwise): what that thread writes
    // back to the device (NAT'ed segments, replies answered on the spot, ICMP) is queued and flushed once at the end
    // of the batch, so the device can coalesce it. Any other thread (a reply completed later) queues too while it is
    // inside a DatagramBatch (a DoT reader delivering every answer of one read) and writes at once otherwise.
    private int _batchThread;
    private bool _deviceQueued;
    private long _errorSecond;
    private int _errorTokens;
    private NetEndpoint? _listenerV4;
    private NetEndpoint? _listenerV6;

    public Dispatcher(ITunDevice device, RoutingTable table, Meter meter, ILogger logger, NatLimits? natLimits = null)
    {
        _device = device;
        _table = table;
        _logger = logger;
        Mtu = device.Mtu;
        Nat = new NatTable(natLimits ?? NatLimits.Default);
        _dropped = meter.CreateCounter<long>("gateway.tun.dropped", unit: "{packet}", description: "Packets dropped by the TUN dispatcher, by reason");
        meter.CreateObservableGauge("gateway.tun.nat.sessions", () => Nat.Count, unit: "{session}", description: "TCP NAT sessions towards virtual endpoints");
        meter.CreateObservableCounter(
            "gateway.tun.nat.evicted",
            () => new Measurement<long>[]
            {
                new(Nat.EvictedForSource, new KeyValuePair<string, object?>("reason", "source_limit")),
                new(Nat.EvictedForRoom, new KeyValuePair<string, object?>("reason", "table_full")),
                new(Nat.ExpiredHalfOpen, new KeyValuePair<string, object?>("reason", "half_open_timeout")),
            },
            unit: "{session}",
            description: "Half-open or closed TCP NAT sessions dropped to bound the table, by reason");
    }

    /// <summary>The device MTU; UDP replies are limited to it.</summary>
    public int Mtu { get; }

    /// <summary>The TCP NAT table.</summary>
    public NatTable Nat { get; }

    /// <summary>The IPv4 kernel listener TCP sessions are rewritten towards, if any.</summary>
    public NetEndpoint? ListenerV4 => _listenerV4;

    /// <summary>The IPv6 kernel listener, if any.</summary>
    public NetEndpoint? ListenerV6 => _listenerV6;

    /// <summary>Sets the kernel listeners TCP sessions are rewritten towards (DESIGN §2 kernel NAT).</summary>
    public void SetListeners(NetEndpoint? v4, NetEndpoint? v6)
    {
        _listenerV4 = v4;
        _listenerV6 = v6;
    }

    /// <summary>Packets dropped for <paramref name="reason"/> since start.</summary>
    public long Dropped(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    /// <summary>Packets dropped for any reason since start.</summary>
    public long DroppedTotal
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _drops.Length; i++)
            {
                total += Interlocked.Read(ref _drops[i]);
            }

            return total;
        }
    }

    /// <inheritdoc/>
    public void OnPackets(PacketBatch batch)
    {
        _batchThread = Environment.CurrentManagedThreadId;

        // One DatagramBatch over the whole TUN batch, as the host socket opens one per recvmmsg: the queries a
        // plugin forwards leave in one upstream write (DotConnection enlists instead of flushing per query), and
        // replies other threads produce meanwhile are queued. Without it the TUN path paid a TLS record and a
        // write(2) per forwarded query (issue 21: 1.63x the socket path's CPU per query).
        using DatagramBatch.Scope scope = DatagramBatch.Open();
        try
        {
            DispatchBatch(batch);
        }
        finally
        {
            _batchThread = 0;
            if (_deviceQueued)
            {
                _deviceQueued = false;
                _device.FlushWrites();
            }

            FlushTouched();
        }
    }

    private void DispatchBatch(PacketBatch batch)
    {
        RoutingSnapshot snapshot = _table.Current;
        if (snapshot.Hooks.Length != 0)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                DispatchOutbound(batch[i], snapshot);
            }
        }
        else
        {
            // No hooks: the miss filter classifies the whole batch first; misses are dropped in one step, the
            // candidates decided one by one in batch order.
            Span<int> candidates = stackalloc int[batch.Count];
            int found = snapshot.MissFilter.Candidates(batch, candidates);
            for (int i = 0; i < found; i++)
            {
                Dispatch(batch[candidates[i]], snapshot);
            }

            if (found != batch.Count)
            {
                Drop(DropReason.NoRoute, batch.Count - found);
            }
        }
    }

    /// <summary>Dispatches one packet read from the TUN (public for tests and benchmarks).</summary>
    public void DispatchOutbound(Span<byte> packet, RoutingSnapshot snapshot)
    {
        if (snapshot.Hooks.Length != 0 && !RunHooks(snapshot.Hooks, PacketDirection.Outbound, packet, null))
        {
            return;
        }

        if (snapshot.MissFilter.IsMiss(packet))
        {
            Drop(DropReason.NoRoute);
            return;
        }

        Dispatch(packet, snapshot);
    }

    // The exact decision and what follows from it, for a packet the miss filter did not reject.
    private void Dispatch(Span<byte> packet, RoutingSnapshot snapshot)
    {
        DispatchResult decision = DispatchDecision.Decide(packet, snapshot);
        switch (decision.Action)
        {
            case DispatchAction.Virtual:
                HandleVirtual(packet, snapshot, null);
                return;
            case DispatchAction.Route:
                RouteOut(packet, decision.Route!, packet[0] >> 4 == 4 ? IPv4Header.TotalLength(packet) : IPv6Header.Length + IPv6Header.PayloadLength(packet));
                return;
            default:
                Drop(decision.Reason);
                return;
        }
    }

    /// <inheritdoc/>
    public void Deliver(Span<byte> packet, IPacketRoute origin)
    {
        RoutingSnapshot snapshot = _table.Current;
        if (snapshot.Hooks.Length != 0 && !RunHooks(snapshot.Hooks, PacketDirection.Inbound, packet, origin))
        {
            return;
        }

        int length;
        switch (packet.IsEmpty ? 0 : packet[0] >> 4)
        {
            case 4:
                if (packet.Length < IPv4Header.MinLength)
                {
                    Drop(DropReason.Truncated);
                    return;
                }

                if (snapshot.IsVirtualV4(IPv4Header.Destination(packet)))
                {
                    HandleVirtual(packet, snapshot, origin);
                    return;
                }

                length = IPv4Header.TotalLength(packet);
                break;

            case 6:
                if (packet.Length < IPv6Header.Length)
                {
                    Drop(DropReason.Truncated);
                    return;
                }

                if (snapshot.IsVirtualV6(IPv6Header.DestinationValue(packet)))
                {
                    HandleVirtual(packet, snapshot, origin);
                    return;
                }

                length = IPv6Header.Length + IPv6Header.PayloadLength(packet);
                break;

            default:
                Drop(DropReason.BadVersion);
                return;
        }

        if (length > packet.Length || length < IPv4Header.MinLength)
        {
            Drop(DropReason.BadLength);
            return;
        }

        // Queued until Flush: the device coalesces a flow's TCP segments into GSO super-packets (IFF_VNET_HDR).
        if (!_device.Enqueue(packet[..length]))
        {
            Drop(DropReason.WriteFailed);
        }
    }

    /// <inheritdoc/>
    public void Flush() => _device.FlushWrites();

    /// <summary>Sends a UDP reply built from the request's endpoints (implements <see cref="IDatagramResponder"/>).</summary>
    public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > request.MaxReplySize)
        {
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ReplyBuilder.UdpOverhead(request.Local.Address.IsV6) + payload.Length);
        try
        {
            int length = ReplyBuilder.Udp(request.Local, request.Client, payload, buffer);
            return SendTo(buffer.AsSpan(0, length), HostDatagrams.StateOf(request) as IPacketRoute, flushRoute: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Removes expired NAT sessions (called periodically by the TUN side); half-open ones are reset towards the kernel
    /// listener so the kernel forgets them before their port serves another session.
    /// </summary>
    public int SweepNat()
    {
        var halfOpen = new List<NatEntry>();
        int removed = Nat.Sweep(Environment.TickCount64, halfOpen);
        foreach (NatEntry entry in halfOpen)
        {
            ResetKernelSide(entry);
        }

        return removed;
    }

    /// <summary>
    /// Resets a half-open session the NAT dropped on the kernel side: a RST from its NAT endpoint with the sequence the
    /// kernel's half-open socket expects (client ISN + 1, RFC 5961 §3.2), so a later SYN on the same port starts a new
    /// handshake instead of meeting the old one.
    /// </summary>
    private void ResetKernelSide(NatEntry entry)
    {
        NetEndpoint? listener = entry.Virtual.Address.IsV6 ? _listenerV6 : _listenerV4;
        if (listener is not { } l)
        {
            return;
        }

        Span<byte> rst = stackalloc byte[IPv6Header.Length + TcpHeader.MinLength];
        int length = ReplyBuilder.Tcp(entry.Virtual.Address, entry.NatPort, l.Address, l.Port, entry.ClientIsn + 1, 0, TcpFlags.Rst, rst);
        if (!WriteToDevice(rst[..length]))
        {
            Drop(DropReason.WriteFailed);
        }
    }

    private void RouteOut(Span<byte> packet, PrefixRoute route, int length)
    {
        if (length > packet.Length || length < IPv4Header.MinLength)
        {
            Drop(DropReason.BadLength);
            return;
        }

        try
        {
            route.Route.Send(packet[..length]);
        }
        catch (Exception ex)
        {
            route.Guard.Report(ex);
            Drop(DropReason.WriteFailed);
            return;
        }

        Touch(route.Route);
    }

    private bool RunHooks(HookBinding[] hooks, PacketDirection direction, Span<byte> packet, IPacketRoute? origin)
    {
        for (int i = 0; i < hooks.Length; i++)
        {
            HookResult result;
            try
            {
                result = hooks[i].Hook.OnPacket(direction, packet, origin);
            }
            catch (Exception ex)
            {
                // A throwing hook must not take the packet path down; it lets the packet pass.
                hooks[i].Guard.Report(ex);
                continue;
            }

            if (result == HookResult.Drop)
            {
                Drop(DropReason.Hook);
                return false;
            }

            if (result == HookResult.Consumed)
            {
                return false;
            }
        }

        return true;
    }

    private void HandleVirtual(Span<byte> packet, RoutingSnapshot snapshot, IPacketRoute? origin)
    {
        PacketError error = PacketClassifier.Classify(packet, out PacketInfo info);
        if (error != PacketError.None)
        {
            Drop(error switch
            {
                PacketError.BadVersion => DropReason.BadVersion,
                PacketError.BadHeaderLength => DropReason.BadHeaderLength,
                PacketError.BadTotalLength => DropReason.BadLength,
                PacketError.Fragment => DropReason.Fragment,
                PacketError.BadTransportHeader => DropReason.BadTransportHeader,
                _ => DropReason.Truncated,
            });
            return;
        }

        if (info.Version == 4 && !IPv4Header.IsChecksumValid(packet))
        {
            Drop(DropReason.BadChecksum);
            return;
        }

        switch (info.Protocol)
        {
            case IpProtocol.Udp:
                HandleUdp(packet, info, snapshot, origin);
                return;
            case IpProtocol.Tcp:
                HandleTcp(packet, info, snapshot, origin);
                return;
            case IpProtocol.Icmp when info.Version == 4:
            case IpProtocol.IcmpV6 when info.Version == 6:
                HandleIcmp(packet, info, origin);
                return;
            default:
                Drop(DropReason.Unsupported);
                return;
        }
    }

    private void HandleUdp(Span<byte> packet, in PacketInfo info, RoutingSnapshot snapshot, IPacketRoute? origin)
    {
        ReadOnlySpan<byte> udp = packet[info.TransportOffset..info.Length];
        ulong pseudo = PseudoHeader(packet, info, IpProtocol.Udp, udp.Length);
        if (!UdpHeader.IsChecksumValid(udp, pseudo, zeroAllowed: info.Version == 4))
        {
            Drop(DropReason.BadChecksum);
            return;
        }

        var local = new NetEndpoint(info.Destination, info.DestinationPort);
        if (!snapshot.Datagrams.TryGetValue(local, out DatagramBinding? binding))
        {
            SendError(packet, info, origin, tcp: false);
            return;
        }

        DatagramRequest request = HostDatagrams.Create(
            this,
            new NetEndpoint(info.Source, info.SourcePort),
            local,
            origin is null ? PacketOrigin.Tun : PacketOrigin.Tunnel,
            Mtu - ReplyBuilder.UdpOverhead(info.Version == 6),
            origin);
        binding.Guard.InvokeDatagram(binding.Handler, request, packet[info.PayloadOffset..info.Length]);
    }

    private void HandleIcmp(Span<byte> packet, in PacketInfo info, IPacketRoute? origin)
    {
        Span<byte> icmp = packet[info.TransportOffset..info.Length];
        ulong pseudo = info.Version == 6 ? PseudoHeader(packet, info, IpProtocol.IcmpV6, icmp.Length) : 0;
        if (!IcmpHeader.IsChecksumValid(icmp, pseudo))
        {
            Drop(DropReason.BadChecksum);
            return;
        }

        int length = ReplyBuilder.EchoReplyInPlace(packet, info);
        if (length == 0)
        {
            Drop(DropReason.Unsupported);
            return;
        }

        SendTo(packet[..length], origin, flushRoute: origin is not null);
    }

    private void HandleTcp(Span<byte> packet, in PacketInfo info, RoutingSnapshot snapshot, IPacketRoute? origin)
    {
        Span<byte> tcp = packet[info.TransportOffset..info.Length];
        bool v6 = info.Version == 6;
        NetEndpoint? listener = v6 ? _listenerV6 : _listenerV4;

        // A segment from the kernel listener back to a NAT port: rewrite it back to the original client.
        if (origin is null && listener is { } l && info.Source == l.Address && info.SourcePort == l.Port)
        {
            ReverseNat(packet, info, tcp, v6, l);
            return;
        }

        if (!TcpHeader.IsChecksumValid(tcp, PseudoHeader(packet, info, IpProtocol.Tcp, tcp.Length)))
        {
            Drop(DropReason.BadChecksum);
            return;
        }

        TcpFlags flags = TcpHeader.Flags(tcp);
        var client = new NetEndpoint(info.Source, info.SourcePort);
        var local = new NetEndpoint(info.Destination, info.DestinationPort);
        bool syn = (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
        NatEntry? entry = Nat.Find(client, local);
        if (entry is null || (syn && entry.State != NatState.Opening))
        {
            if (!syn || !snapshot.Streams.TryGetValue(local, out StreamBinding? binding))
            {
                // RFC 9293 §3.5.2: no connection (closed port, or a session that expired) → RST.
                SendError(packet, info, origin, tcp: true);
                return;
            }

            if (listener is null)
            {
                Drop(DropReason.NoListener);
                SendError(packet, info, origin, tcp: true);
                return;
            }

            entry = Nat.Create(client, local, binding, origin, TcpHeader.SequenceNumber(tcp), out NatRefusal refusal, out NatEntry? evicted);
            if (evicted is not null)
            {
                ResetKernelSide(evicted);
            }

            if (entry is null)
            {
                // Dropped, not reset: like a full conntrack table, the client retries its SYN and may find room.
                Drop(refusal == NatRefusal.SourceLimit ? DropReason.NatSourceLimit : DropReason.NatExhausted);
                return;
            }
        }

        Nat.Observe(entry, fromClient: true, flags);

        // client:cport → vip:vport becomes vip:natPort → listener (DESIGN §2); RFC 1624 updates keep it cheap.
        TcpNatRewriter.ToListener(packet, tcp, v6, entry, listener!.Value);
        if (!(origin is null ? WriteToDevice(packet[..info.Length]) : _device.Enqueue(packet[..info.Length])))
        {
            Drop(DropReason.WriteFailed);
        }
    }

    private void ReverseNat(Span<byte> packet, in PacketInfo info, Span<byte> tcp, bool v6, NetEndpoint listener)
    {
        NatEntry? entry = Nat.FindByPort(v6, info.DestinationPort);
        if (entry is null || entry.Virtual.Address != info.Destination)
        {
            Drop(DropReason.NatUnknown);
            return;
        }

        TcpFlags flags = TcpHeader.Flags(tcp);
        Nat.Observe(entry, fromClient: false, flags);

        // listener:lport → vip:natPort becomes vip:vport → client:cport.
        TcpNatRewriter.ToClient(packet, tcp, v6, entry, listener);
        SendTo(packet[..info.Length], entry.Origin, flushRoute: false);
    }

    private void SendError(ReadOnlySpan<byte> packet, in PacketInfo info, IPacketRoute? origin, bool tcp)
    {
        if (!TakeErrorToken())
        {
            Drop(DropReason.RateLimited);
            return;
        }

        Span<byte> buffer = stackalloc byte[ReplyBuilder.MaxIcmpV6Error];
        int length = tcp ? ReplyBuilder.Reset(packet, info, buffer) : ReplyBuilder.PortUnreachable(packet, info, buffer);
        if (length > 0)
        {
            SendTo(buffer[..length], origin, flushRoute: true);
        }
        else
        {
            Drop(DropReason.NoErrorReply);
        }
    }

    private bool TakeErrorToken()
    {
        long second = Environment.TickCount64 / 1000;
        if (Volatile.Read(ref _errorSecond) != second)
        {
            Volatile.Write(ref _errorTokens, ErrorsPerSecond);
            Volatile.Write(ref _errorSecond, second);
        }

        return Interlocked.Decrement(ref _errorTokens) >= 0;
    }

    private bool SendTo(ReadOnlySpan<byte> packet, IPacketRoute? origin, bool flushRoute)
    {
        if (origin is null)
        {
            if (WriteToDevice(packet))
            {
                return true;
            }

            Drop(DropReason.WriteFailed);
            return false;
        }

        try
        {
            origin.Send(packet);
            if (flushRoute)
            {
                origin.Flush();
            }
            else
            {
                Touch(origin);
            }

            return true;
        }
        catch (Exception ex)
        {
            DispatchLog.RouteFailed(_logger, origin.Name, ex);
            Drop(DropReason.WriteFailed);
            return false;
        }
    }

    private void Touch(IPacketRoute route)
    {
        for (int i = 0; i < _touchedCount; i++)
        {
            if (ReferenceEquals(_touched[i], route))
            {
                return;
            }
        }

        if (_touchedCount == MaxTouchedRoutes)
        {
            FlushTouched();
        }

        _touched[_touchedCount++] = route;
    }

    // A packet for the host: queued when the TUN read loop sends it during a batch (flushed at its end), else written.
    private bool WriteToDevice(ReadOnlySpan<byte> packet)
    {
        if (_batchThread != Environment.CurrentManagedThreadId)
        {
            // Another thread inside a DatagramBatch (a DoT reader delivering every answer of one read): queued and
            // written when that batch ends, under one device lock, coalesced where one flow has several.
            if (DatagramBatch.Enlist(this))
            {
                return _device.Enqueue(packet);
            }

            return _device.Write(packet);
        }

        _deviceQueued = true;
        return _device.Enqueue(packet);
    }

    /// <inheritdoc/>
    void IDatagramBatchParticipant.FlushBatch() => _device.FlushWrites();

    private void FlushTouched()
    {
        for (int i = 0; i < _touchedCount; i++)
        {
            IPacketRoute route = _touched[i]!;
            _touched[i] = null;
            try
            {
                route.Flush();
            }
            catch (Exception ex)
            {
                DispatchLog.RouteFailed(_logger, route.Name, ex);
            }
        }

        _touchedCount = 0;
    }

    private static ulong PseudoHeader(ReadOnlySpan<byte> packet, in PacketInfo info, byte protocol, int length) =>
        info.Version == 4
            ? InternetChecksum.PseudoHeaderV4(packet, protocol, length)
            : InternetChecksum.PseudoHeaderV6(packet[8..], packet[24..], protocol, length);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Drop(DropReason reason, int count = 1)
    {
        Interlocked.Add(ref _drops[(int)reason], count);
        _dropped.Add(count, DropReasons.Tag(reason));
    }
}
