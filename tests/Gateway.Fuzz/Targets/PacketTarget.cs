using System.Buffers.Binary;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// The SDK's packet classifier and header readers (sdk/Packets), on one IP packet as read from the TUN.
/// </summary>
/// <remarks>
/// Invariants: a classified packet's offsets are ordered and inside the bytes (transport ≤ payload ≤ length ≤ bytes;
/// UDP ends where its length says), its addresses, ports and protocol are the header bytes (after the IPv6 extension
/// headers the classifier walks), and it is no fragment; the refusal reason is the first one a strict reading gives.
/// The fast checksum (vectorised, 64-bit accumulator) equals a plain RFC 1071 sum over 16-bit words, and the
/// incremental update (RFC 1624) of a rewritten field equals recomputing the checksum.
/// </remarks>
internal sealed class PacketTarget : IFuzzTarget
{
    private readonly byte[] _copy = new byte[1 << 16];

    public string Name => "packet";

    public string Description => "IPv4/IPv6/TCP/UDP/ICMP classification and checksums (sdk/Packets)";

    public void Run(ReadOnlySpan<byte> packet)
    {
        PacketError error = PacketClassifier.Classify(packet, out PacketInfo info);
        Check(error == Expected(packet), $"classified {error}, a strict reading says {Expected(packet)}");
        if (error == PacketError.None)
        {
            CheckInfo(packet, info);
        }

        CheckChecksums(packet);
    }

    private static void CheckInfo(ReadOnlySpan<byte> packet, in PacketInfo info)
    {
        Check(info.Version == packet[0] >> 4, "version misreported");
        Check(info.TransportOffset <= info.PayloadOffset && info.PayloadOffset <= info.Length && info.Length <= packet.Length, "offsets out of order or outside the packet");
        if (info.Version == 4)
        {
            Check(info.TransportOffset == IPv4Header.HeaderLength(packet) && info.Protocol == IPv4Header.Protocol(packet), "IPv4 header length or protocol misreported");
            Check(info.Source == NetAddress.FromV4(IPv4Header.Source(packet)) && info.Destination == NetAddress.FromV4(IPv4Header.Destination(packet)), "IPv4 addresses misreported");
            Check(!IPv4Header.IsFragment(packet), "classified an IPv4 fragment");
        }
        else
        {
            Check(info.Source == IPv6Header.Source(packet) && info.Destination == IPv6Header.Destination(packet), "IPv6 addresses misreported");
            Check(info.TransportOffset >= IPv6Header.Length && info.Protocol != IpProtocol.Fragment, "IPv6 transport offset or fragment");
        }

        ReadOnlySpan<byte> transport = packet[info.TransportOffset..];
        switch (info.Protocol)
        {
            case IpProtocol.Udp:
                Check(info.SourcePort == UdpHeader.SourcePort(transport) && info.DestinationPort == UdpHeader.DestinationPort(transport), "UDP ports misreported");
                Check(info.PayloadOffset == info.TransportOffset + UdpHeader.Length && info.Length == info.TransportOffset + UdpHeader.DatagramLength(transport), "UDP payload not bounded by its length field");
                break;
            case IpProtocol.Tcp:
                Check(info.SourcePort == TcpHeader.SourcePort(transport) && info.DestinationPort == TcpHeader.DestinationPort(transport), "TCP ports misreported");
                Check(info.PayloadOffset == info.TransportOffset + TcpHeader.HeaderLength(transport), "TCP payload does not start after the options");
                break;
            case IpProtocol.Icmp or IpProtocol.IcmpV6:
                Check(info.SourcePort == BinaryPrimitives.ReadUInt16BigEndian(transport[4..]) && info.PayloadOffset == info.TransportOffset + IcmpHeader.Length, "ICMP identifier or payload misreported");
                break;
            default:
                Check(info.SourcePort == 0 && info.DestinationPort == 0, "ports reported for a protocol without ports");
                break;
        }
    }

    /// <summary>The verdict written out plainly from RFC 791 / RFC 8200 / RFC 768 / RFC 9293, for comparison.</summary>
    private static PacketError Expected(ReadOnlySpan<byte> p)
    {
        if (p.Length == 0)
        {
            return PacketError.Truncated;
        }

        int version = p[0] >> 4;
        int offset, end;
        byte protocol;
        if (version == 4)
        {
            if (p.Length < 20)
            {
                return PacketError.Truncated;
            }

            offset = (p[0] & 15) * 4;
            end = (p[2] << 8) | p[3];
            if (offset < 20 || offset > p.Length)
            {
                return PacketError.BadHeaderLength;
            }

            if (end < offset || end > p.Length)
            {
                return PacketError.BadTotalLength;
            }

            if ((p[6] & 0x3F) != 0 || p[7] != 0)
            {
                return PacketError.Fragment;
            }

            protocol = p[9];
        }
        else if (version == 6)
        {
            if (p.Length < 40)
            {
                return PacketError.Truncated;
            }

            end = 40 + ((p[4] << 8) | p[5]);
            if (end > p.Length)
            {
                return PacketError.BadTotalLength;
            }

            protocol = p[6];
            offset = 40;
            for (int i = 0; i < 8 && protocol is 0 or 43 or 60 or 44; i++)
            {
                if (protocol == 44)
                {
                    return PacketError.Fragment;
                }

                if (offset + 8 > end)
                {
                    return PacketError.Truncated;
                }

                protocol = p[offset];
                offset += (p[offset + 1] + 1) * 8;
                if (offset > end)
                {
                    return PacketError.Truncated;
                }
            }
        }
        else
        {
            return PacketError.BadVersion;
        }

        int available = end - offset;
        return protocol switch
        {
            6 when available < 20 => PacketError.Truncated,
            6 when (p[offset + 12] >> 4) < 5 || (p[offset + 12] >> 4) * 4 > available => PacketError.BadTransportHeader,
            17 when available < 8 => PacketError.Truncated,
            17 when ((p[offset + 4] << 8) | p[offset + 5]) is var length && (length < 8 || length > available) => PacketError.BadTransportHeader,
            1 or 58 when available < 8 => PacketError.Truncated,
            _ => PacketError.None,
        };
    }

    private void CheckChecksums(ReadOnlySpan<byte> packet)
    {
        // Every length and alignment: the input (up to 2 KiB: the vector loop has no seams beyond its first blocks),
        // and each suffix start up to 8 (the seams of its alignment).
        ReadOnlySpan<byte> bounded = packet[..Math.Min(packet.Length, 2048)];
        for (int start = 0; start <= Math.Min(8, bounded.Length); start++)
        {
            ReadOnlySpan<byte> data = bounded[start..];
            Check(InternetChecksum.Compute(data) == Rfc1071(data), $"checksum of {data.Length} bytes at +{start} differs from the RFC 1071 sum");
        }

        // RFC 1624: rewrite a 16-bit and a 32-bit field behind a valid checksum; the incremental update must match.
        if (packet.Length >= 8)
        {
            Span<byte> copy = _copy.AsSpan(0, packet.Length);
            packet.CopyTo(copy);
            int field = (packet[0] % (packet.Length / 2)) * 2 / 4 * 4;
            if (field + 4 > packet.Length || field == 0)
            {
                return;
            }

            BinaryPrimitives.WriteUInt16BigEndian(copy, 0);
            ushort checksum = InternetChecksum.Compute(copy);
            BinaryPrimitives.WriteUInt16BigEndian(copy, checksum);
            uint oldValue = BinaryPrimitives.ReadUInt32BigEndian(copy[field..]);
            uint newValue = BinaryPrimitives.ReadUInt32BigEndian(packet[^4..]);
            BinaryPrimitives.WriteUInt32BigEndian(copy[field..], newValue);
            ushort updated = InternetChecksum.Update(checksum, oldValue, newValue);
            BinaryPrimitives.WriteUInt16BigEndian(copy, 0);
            ushort recomputed = InternetChecksum.Compute(copy);
            // 0x0000 and 0xFFFF are the same number in one's complement: RFC 1624 §3 keeps either.
            Check(updated == recomputed || (updated ^ recomputed) == 0xFFFF && (updated is 0 or 0xFFFF), $"incremental update {updated:x4}, recomputed {recomputed:x4}");
        }
    }

    private static ushort Rfc1071(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += (uint)((data[i] << 8) | data[i + 1]);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        if (i < data.Length)
        {
            sum += (uint)(data[i] << 8);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
