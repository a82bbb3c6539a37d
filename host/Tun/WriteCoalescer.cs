using System.Buffers.Binary;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Tun;

/// <summary>
/// The write half of TUN offloads: packets queued for the host between two flushes are written as few frames as
/// possible. Consecutive TCP segments of one flow are coalesced into one GSO super-packet (virtio gso_type
/// TCPV4/TCPV6, gso_size = the first segment's payload, VIRTIO_NET_HDR_F_NEEDS_CSUM with the pseudo-header sum in
/// the checksum field), so the kernel takes up to 64 KiB in one write(2) and its TCP receives one large skb; where
/// the kernel granted USO, consecutive UDP datagrams of one flow likewise (gso_type UDP_L4: the kernel splits the
/// super-packet back into the datagrams before any socket sees it). Everything else is written as a single packet
/// with an all-zero virtio header.
/// </summary>
/// <remarks>
/// Hand-written: no library in our registry does GRO for a TUN. The merge rules are the kernel's GRO
/// (tcp_gro_receive, inet_gro_receive, ipv6_gro_receive) as wireguard-go's tun/offload_linux.go applies them:
/// same addresses and ports; same IPv4 TOS, TTL and DF bit (no options, no fragments, valid header checksum) or
/// same IPv6 version/class/flow label and hop limit (no extension headers); same TCP ack number, window, header
/// length and options; only ACK or ACK|PSH set; contiguous sequence numbers; a non-empty payload no larger than
/// the first one's, and nothing after a shorter one or after PSH; valid TCP checksums (the kernel trusts
/// CHECKSUM_PARTIAL, so a segment with a bad checksum is written alone, for the kernel to drop). UDP as the kernel's
/// udp_gro_receive and wireguard-go's UDP coalescing: same addresses and IP fields and ports, a non-empty payload no
/// larger than the first one's and nothing after a shorter one, at most <see cref="MaxUdpSegments"/> datagrams, a
/// present and valid checksum (a datagram without one is written alone: CHECKSUM_PARTIAL would add one). Only the most
/// recently queued packet is extended, which keeps in-order flows merged without a flow table. Not thread-safe:
/// the device serialises calls.
/// </remarks>
internal sealed class WriteCoalescer
{
    /// <summary>Packets (or super-packets) held before a flush is forced.</summary>
    public const int MaxItems = 128;

    /// <summary>The largest super-packet built (the IPv4 total length is 16 bits; the kernel's GSO limit is 64 KiB).</summary>
    public const int MaxSuperPacket = 65535;

    /// <summary>The most UDP datagrams in one super-packet (the kernel's UDP_MAX_SEGMENTS before Linux 6.4).</summary>
    public const int MaxUdpSegments = 64;

    private const int ArenaBytes = 512 * 1024;
    private const byte TcpAck = 0x10;
    private const byte TcpPsh = 0x08;

    private readonly ITunFrameWriter _writer;
    private readonly bool _udp;
    private readonly byte[] _arena = GC.AllocateUninitializedArray<byte>(ArenaBytes, pinned: true);
    private readonly Item[] _items = new Item[MaxItems];
    private int _count;
    private int _used;

    /// <summary>Writes flushed frames through <paramref name="writer"/>.</summary>
    /// <param name="writer">The device.</param>
    /// <param name="udp">True when the device accepts UDP_L4 super-packets (TUN_F_USO4 and TUN_F_USO6 granted).</param>
    public WriteCoalescer(ITunFrameWriter writer, bool udp = false)
    {
        _writer = writer;
        _udp = udp;
    }

    /// <summary>Packets queued and not yet written (super-packets count once).</summary>
    public int Pending => _count;

    /// <summary>Segments that were merged into an earlier packet since start.</summary>
    public long Coalesced { get; private set; }

    /// <summary>Frames the device refused since start.</summary>
    public long WriteFailures { get; private set; }

    /// <summary>Queues one IP packet (copied); false when it is larger than a frame can be.</summary>
    public bool Enqueue(ReadOnlySpan<byte> packet)
    {
        if (packet.Length > MaxSuperPacket || packet.IsEmpty)
        {
            return false;
        }

        Segment segment = Segment.Parse(packet, _udp);
        if (segment.IsCandidate && _count > 0 && TryAppend(ref _items[_count - 1], packet, segment))
        {
            Coalesced++;
            return true;
        }

        if (_count == MaxItems || ArenaBytes - _used < VirtioNetHeader.Size + packet.Length)
        {
            Flush();
        }

        int offset = _used + VirtioNetHeader.Size;
        packet.CopyTo(_arena.AsSpan(offset));
        _used = offset + packet.Length;
        _items[_count++] = new Item
        {
            Offset = offset,
            Length = packet.Length,
            Segments = 1,
            First = segment,
            NextSequence = segment.Sequence + (uint)segment.PayloadLength,
            Open = segment.IsCandidate && !segment.Psh,
        };
        return true;
    }

    /// <summary>Writes every queued packet: one frame per packet or super-packet. False when any write failed.</summary>
    public bool Flush()
    {
        bool ok = true;
        for (int i = 0; i < _count; i++)
        {
            ref Item item = ref _items[i];
            Span<byte> packet = _arena.AsSpan(item.Offset, item.Length);
            Span<byte> header = _arena.AsSpan(item.Offset - VirtioNetHeader.Size, VirtioNetHeader.Size);
            if (item.Segments > 1)
            {
                Finish(packet, item).Write(header);
            }
            else
            {
                VirtioNetHeader.None.Write(header);
            }

            if (!_writer.WriteFrame(_arena.AsSpan(item.Offset - VirtioNetHeader.Size, item.Length + VirtioNetHeader.Size)))
            {
                WriteFailures++;
                ok = false;
            }
        }

        _count = 0;
        _used = 0;
        return ok;
    }

    /// <summary>Fixes the headers of a super-packet and returns its virtio header.</summary>
    private static VirtioNetHeader Finish(Span<byte> packet, in Item item)
    {
        int ipLength = item.First.IpLength;
        bool v6 = item.First.V6;
        bool tcp = item.First.Protocol == IpProtocol.Tcp;
        if (v6)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[4..], (ushort)(packet.Length - IPv6Header.Length));
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], (ushort)packet.Length);
            IPv4Header.UpdateChecksum(packet);
        }

        // A UDP super-packet's length field covers all of it, as its IP length does (the kernel rewrites both per
        // datagram when it splits).
        int transportLength = packet.Length - ipLength;
        if (!tcp)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[(ipLength + 4)..], (ushort)transportLength);
        }

        // CHECKSUM_PARTIAL: the field holds the folded, uncomplemented pseudo-header sum; the kernel adds the rest.
        int checksumOffset = tcp ? 16 : 6;
        ulong pseudo = v6
            ? InternetChecksum.PseudoHeaderV6(packet[8..], packet[24..], item.First.Protocol, transportLength)
            : InternetChecksum.PseudoHeaderV4(packet, item.First.Protocol, transportLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet[(ipLength + checksumOffset)..], InternetChecksum.Fold(pseudo));
        return new VirtioNetHeader(
            VirtioNetHeader.FlagNeedsChecksum,
            !tcp ? VirtioNetHeader.GsoUdpL4 : v6 ? VirtioNetHeader.GsoTcpV6 : VirtioNetHeader.GsoTcpV4,
            (ushort)item.First.HeadersLength,
            (ushort)item.First.PayloadLength,
            (ushort)ipLength,
            (ushort)checksumOffset);
    }

    private bool TryAppend(ref Item item, ReadOnlySpan<byte> packet, in Segment segment)
    {
        int payload = segment.PayloadLength;
        bool tcp = segment.Protocol == IpProtocol.Tcp;
        if (!item.Open ||
            item.First.Protocol != segment.Protocol ||
            item.First.V6 != segment.V6 ||
            item.First.TransportLength != segment.TransportLength ||
            (tcp ? segment.Sequence != item.NextSequence : item.Segments == MaxUdpSegments) ||
            payload > item.First.PayloadLength ||
            item.Length + payload > MaxSuperPacket ||
            item.Offset + item.Length != _used ||
            ArenaBytes - _used < payload)
        {
            return false;
        }

        Span<byte> head = _arena.AsSpan(item.Offset, item.Length);
        if (!SameFlow(head, packet, segment))
        {
            return false;
        }

        // The first packet's checksum is checked when the first segment joins it: after that its field is rewritten.
        if ((item.Segments == 1 && !ChecksumValid(head, item.First)) || !ChecksumValid(packet, segment))
        {
            item.Open = false;
            return false;
        }

        packet[segment.HeadersLength..].CopyTo(_arena.AsSpan(_used));
        _used += payload;
        item.Length += payload;
        item.Segments++;
        item.NextSequence += (uint)payload;

        // Nothing may follow a shorter segment (it would not be gso_size) or PSH (it ends a GRO train).
        if (payload < item.First.PayloadLength)
        {
            item.Open = false;
        }

        if (segment.Psh)
        {
            head[item.First.IpLength + 13] |= TcpPsh;
            item.Open = false;
        }

        return true;
    }

    private static bool SameFlow(ReadOnlySpan<byte> head, ReadOnlySpan<byte> packet, in Segment segment)
    {
        int ip = segment.IpLength;
        if (segment.V6)
        {
            // Version, traffic class, flow label; hop limit; addresses.
            if (!head[..4].SequenceEqual(packet[..4]) || head[7] != packet[7] || !head.Slice(8, 32).SequenceEqual(packet.Slice(8, 32)))
            {
                return false;
            }
        }
        else if (head[1] != packet[1] || (head[6] >> 5) != (packet[6] >> 5) || head[8] != packet[8] || !head.Slice(12, 8).SequenceEqual(packet.Slice(12, 8)))
        {
            // TOS, DF/reserved bits, TTL, addresses.
            return false;
        }

        // Ports; for TCP also the acknowledgment number, data offset (header length), window and options.
        ReadOnlySpan<byte> a = head[ip..];
        ReadOnlySpan<byte> b = packet[ip..];
        if (segment.Protocol == IpProtocol.Udp)
        {
            return a[..4].SequenceEqual(b[..4]);
        }

        return a[..4].SequenceEqual(b[..4]) &&
            a.Slice(8, 4).SequenceEqual(b.Slice(8, 4)) &&
            a[12] == b[12] &&
            a.Slice(14, 2).SequenceEqual(b.Slice(14, 2)) &&
            a[20..segment.TransportLength].SequenceEqual(b[20..segment.TransportLength]);
    }

    private static bool ChecksumValid(ReadOnlySpan<byte> packet, in Segment segment)
    {
        ReadOnlySpan<byte> transport = packet[segment.IpLength..];
        ulong pseudo = segment.V6
            ? InternetChecksum.PseudoHeaderV6(packet[8..], packet[24..], segment.Protocol, transport.Length)
            : InternetChecksum.PseudoHeaderV4(packet, segment.Protocol, transport.Length);
        return segment.Protocol == IpProtocol.Tcp
            ? TcpHeader.IsChecksumValid(transport, pseudo)
            : UdpHeader.IsChecksumValid(transport, pseudo, zeroAllowed: false);
    }

    /// <summary>A queued packet or super-packet.</summary>
    private struct Item
    {
        public int Offset;
        public int Length;
        public int Segments;
        public Segment First;
        public uint NextSequence;
        public bool Open;
    }

    /// <summary>
    /// What the coalescer needs of a TCP segment or UDP datagram; <see cref="IsCandidate"/> false for anything it must
    /// not merge.
    /// </summary>
    private readonly struct Segment
    {
        public bool IsCandidate { get; private init; }

        public byte Protocol { get; private init; }

        public bool V6 { get; private init; }

        public int IpLength { get; private init; }

        /// <summary>The TCP header's length (with options) or the UDP header's.</summary>
        public int TransportLength { get; private init; }

        public int PayloadLength { get; private init; }

        public uint Sequence { get; private init; }

        public bool Psh { get; private init; }

        public int HeadersLength => IpLength + TransportLength;

        /// <param name="packet">The packet.</param>
        /// <param name="udp">Whether UDP datagrams may be merged at all.</param>
        public static Segment Parse(ReadOnlySpan<byte> packet, bool udp)
        {
            int ipLength;
            bool v6;
            byte protocol;
            switch (packet[0] >> 4)
            {
                case 4:
                    // No options, exact total length, not a fragment, a valid header checksum.
                    if (packet.Length < 28 || packet[0] != 0x45 || IPv4Header.TotalLength(packet) != packet.Length ||
                        IPv4Header.IsFragment(packet) || !InternetChecksum.IsValid(packet[..20]))
                    {
                        return default;
                    }

                    ipLength = 20;
                    v6 = false;
                    protocol = packet[9];
                    break;
                case 6:
                    // No extension headers, exact payload length.
                    if (packet.Length < 48 || IPv6Header.PayloadLength(packet) + IPv6Header.Length != packet.Length)
                    {
                        return default;
                    }

                    ipLength = IPv6Header.Length;
                    v6 = true;
                    protocol = packet[6];
                    break;
                default:
                    return default;
            }

            ReadOnlySpan<byte> transport = packet[ipLength..];
            if (protocol == IpProtocol.Udp && udp)
            {
                // The datagram fills the packet and carries a payload.
                int datagram = transport.Length;
                return datagram <= UdpHeader.Length || UdpHeader.DatagramLength(transport) != datagram
                    ? default
                    : new Segment
                    {
                        IsCandidate = true,
                        Protocol = protocol,
                        V6 = v6,
                        IpLength = ipLength,
                        TransportLength = UdpHeader.Length,
                        PayloadLength = datagram - UdpHeader.Length,
                    };
            }

            if (protocol != IpProtocol.Tcp || transport.Length < TcpHeader.MinLength)
            {
                return default;
            }

            int tcpLength = TcpHeader.HeaderLength(transport);
            byte flags = transport[13];
            int payload = transport.Length - tcpLength;
            if (tcpLength < TcpHeader.MinLength || payload <= 0 || (flags != TcpAck && flags != (TcpAck | TcpPsh)))
            {
                return default;
            }

            return new Segment
            {
                IsCandidate = true,
                Protocol = protocol,
                V6 = v6,
                IpLength = ipLength,
                TransportLength = tcpLength,
                PayloadLength = payload,
                Sequence = TcpHeader.SequenceNumber(transport),
                Psh = (flags & TcpPsh) != 0,
            };
        }
    }
}
