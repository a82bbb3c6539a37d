using System.Buffers.Binary;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Tun;

/// <summary>What <see cref="GsoSplitter.Append"/> did with a frame.</summary>
internal enum SplitResult
{
    /// <summary>The packet (or every segment of the super-packet) is in the batch.</summary>
    Added,

    /// <summary>The batch has no room for it: dispatch the batch, clear it and try again.</summary>
    NoRoom,

    /// <summary>The virtio header does not describe the packet (bad offsets, unknown GSO type): dropped.</summary>
    Malformed,
}

/// <summary>
/// The read half of TUN offloads (IFF_VNET_HDR with TUNSETOFFLOAD): a frame the kernel handed us may be a TSO/USO
/// super-packet of up to 64 KiB, or carry a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM). This turns it into
/// ordinary, complete IP packets in a <see cref="PacketBatch"/>, splitting a super-packet once into MTU-sized
/// segments the way the kernel's tcp_gso_segment/__udp_gso_segment would: IPv4 total length, identification (+1
/// per segment) and header checksum, IPv6 payload length, TCP sequence numbers (FIN and PSH only on the last
/// segment, CWR only on the first), UDP length, and a full transport checksum for each segment.
/// </summary>
/// <remarks>
/// Hand-written: no library in our registry implements virtio-net segmentation. The rules follow the kernel
/// (net/ipv4/tcp_offload.c, net/ipv4/udp_offload.c) and wireguard-go's tun/offload_linux.go. The header length
/// the kernel reports (hdr_len) is not trusted: it is recomputed from csum_start and the transport header, as
/// wireguard-go does, because forwarded packets may carry the whole first segment's length there.
/// </remarks>
internal static class GsoSplitter
{
    private const int TcpChecksumOffset = 16;
    private const int UdpChecksumOffset = 6;
    private const int UdpHeaderLength = 8;
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;

    /// <summary>
    /// Appends the packet of one TUN frame (<paramref name="packet"/>, after its virtio header <paramref name="header"/>)
    /// to <paramref name="batch"/>: as is, with its checksum completed, or split into segments. The packet may be
    /// modified in place.
    /// </summary>
    public static SplitResult Append(in VirtioNetHeader header, Span<byte> packet, PacketBatch batch)
    {
        if (packet.IsEmpty)
        {
            return SplitResult.Malformed;
        }

        int gsoType = header.GsoType & ~VirtioNetHeader.GsoEcn;
        if (gsoType == VirtioNetHeader.GsoNone)
        {
            // Room first: completing the checksum changes the packet, so a retry after NoRoom must find it untouched.
            if (batch.IsFull || packet.Length > batch.Space.Length)
            {
                return SplitResult.NoRoom;
            }

            if ((header.Flags & VirtioNetHeader.FlagNeedsChecksum) != 0 && !CompleteChecksum(packet, header.ChecksumStart, header.ChecksumOffset))
            {
                return SplitResult.Malformed;
            }

            batch.TryAdd(packet);
            return SplitResult.Added;
        }

        return Split(header, gsoType, packet, batch);
    }

    /// <summary>
    /// Completes a partial checksum (CHECKSUM_PARTIAL): the field at <paramref name="start"/> + <paramref name="offset"/>
    /// holds the folded pseudo-header sum; the checksum over everything from <paramref name="start"/> on replaces it.
    /// </summary>
    public static bool CompleteChecksum(Span<byte> packet, int start, int offset)
    {
        int at = start + offset;
        if (at + 2 > packet.Length)
        {
            return false;
        }

        ushort checksum = InternetChecksum.Finish(InternetChecksum.Add(0, packet[start..]));

        // RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "no checksum").
        if (checksum == 0 && offset == UdpChecksumOffset)
        {
            checksum = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet[at..], checksum);
        return true;
    }

    private static SplitResult Split(in VirtioNetHeader header, int gsoType, ReadOnlySpan<byte> packet, PacketBatch batch)
    {
        bool tcp = gsoType is VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6;
        if (!tcp && gsoType != VirtioNetHeader.GsoUdpL4)
        {
            return SplitResult.Malformed;
        }

        int version = packet[0] >> 4;
        bool v6 = version == 6;
        if ((gsoType == VirtioNetHeader.GsoTcpV4 && version != 4) || (gsoType == VirtioNetHeader.GsoTcpV6 && !v6) || version is not (4 or 6))
        {
            return SplitResult.Malformed;
        }

        // csum_start is where the transport header begins: the IP header length (IPv6 extension headers included).
        int ipLength = header.ChecksumStart;
        byte protocol = tcp ? IpProtocol.Tcp : IpProtocol.Udp;
        if (v6)
        {
            if (ipLength < IPv6Header.Length || (ipLength == IPv6Header.Length && packet.Length > 6 && packet[6] != protocol))
            {
                return SplitResult.Malformed;
            }
        }
        else if (packet.Length < IPv4Header.MinLength || ipLength != IPv4Header.HeaderLength(packet) || packet[9] != protocol)
        {
            return SplitResult.Malformed;
        }

        if (packet.Length < ipLength + (tcp ? TcpHeader.MinLength : UdpHeaderLength))
        {
            return SplitResult.Malformed;
        }

        int transportLength = tcp ? TcpHeader.HeaderLength(packet[ipLength..]) : UdpHeaderLength;
        int headersLength = ipLength + transportLength;
        int gsoSize = header.GsoSize;
        if (transportLength < (tcp ? TcpHeader.MinLength : UdpHeaderLength) || headersLength > packet.Length || gsoSize == 0)
        {
            return SplitResult.Malformed;
        }

        int payload = packet.Length - headersLength;
        int segments = payload == 0 ? 1 : (payload + gsoSize - 1) / gsoSize;
        if (segments > batch.FreeSlots || packet.Length + ((segments - 1) * headersLength) > batch.Space.Length)
        {
            return SplitResult.NoRoom;
        }

        // The pseudo-header sum without its length (RFC 9293 §3.1, RFC 8200 §8.1); each segment adds its own.
        ulong pseudo = v6
            ? InternetChecksum.PseudoHeaderV6(packet[8..], packet[24..], protocol, 0)
            : InternetChecksum.PseudoHeaderV4(packet, protocol, 0);
        ushort id = v6 ? (ushort)0 : IPv4Header.Identification(packet);
        uint sequence = tcp ? TcpHeader.SequenceNumber(packet[ipLength..]) : 0;
        int checksumAt = ipLength + (tcp ? TcpChecksumOffset : UdpChecksumOffset);
        for (int i = 0; i < segments; i++)
        {
            int dataStart = headersLength + (i * gsoSize);
            int dataLength = Math.Min(gsoSize, packet.Length - dataStart);
            if (dataLength < 0)
            {
                dataLength = 0;
            }

            int length = headersLength + dataLength;
            Span<byte> segment = batch.Space[..length];
            packet[..headersLength].CopyTo(segment);
            packet.Slice(dataStart, dataLength).CopyTo(segment[headersLength..]);
            if (v6)
            {
                BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(length - IPv6Header.Length));
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(segment[2..], (ushort)length);
                BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(id + i));
                IPv4Header.UpdateChecksum(segment);
            }

            Span<byte> transport = segment[ipLength..];
            if (tcp)
            {
                BinaryPrimitives.WriteUInt32BigEndian(transport[4..], sequence + (uint)(i * gsoSize));
                byte flags = transport[13];
                if (i != segments - 1)
                {
                    flags &= unchecked((byte)~(TcpFin | TcpPsh));
                }

                if (i != 0)
                {
                    flags &= unchecked((byte)~TcpCwr);
                }

                transport[13] = flags;
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(transport[4..], (ushort)transport.Length);
            }

            segment[checksumAt] = 0;
            segment[checksumAt + 1] = 0;
            ushort checksum = InternetChecksum.Finish(InternetChecksum.Add(pseudo + (uint)transport.Length, transport));
            if (checksum == 0 && !tcp)
            {
                checksum = 0xFFFF;
            }

            BinaryPrimitives.WriteUInt16BigEndian(segment[checksumAt..], checksum);
            batch.Commit(length);
        }

        return SplitResult.Added;
    }
}
