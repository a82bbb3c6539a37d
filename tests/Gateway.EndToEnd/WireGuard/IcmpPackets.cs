using System.Buffers.Binary;
using Gateway.Sdk.Networking;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>Builds and reads ICMP echo packets (IPv4 and ICMPv6) byte by byte, standing in for a host's stack.</summary>
public static class IcmpPackets
{
    /// <summary>An IPv4 ICMP echo request or reply (RFC 792).</summary>
    public static byte[] EchoV4(NetAddress source, NetAddress destination, ushort id, ushort sequence, bool reply, int payloadLength = 56)
    {
        byte[] p = new byte[20 + 8 + payloadLength];
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        p[8] = 64;
        p[9] = 1;
        source.WriteTo(p.AsSpan(12));
        destination.WriteTo(p.AsSpan(16));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, 20), 0));
        p[20] = reply ? (byte)0 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(24), id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(26), sequence);
        for (int i = 0; i < payloadLength; i++)
        {
            p[28 + i] = (byte)i;
        }

        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), Checksum(p.AsSpan(20), 0));
        return p;
    }

    /// <summary>An ICMPv6 echo request or reply (RFC 4443) with the pseudo-header checksum.</summary>
    public static byte[] EchoV6(NetAddress source, NetAddress destination, ushort id, ushort sequence, bool reply, int payloadLength = 56)
    {
        int icmpLength = 8 + payloadLength;
        byte[] p = new byte[40 + icmpLength];
        p[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)icmpLength);
        p[6] = 58;
        p[7] = 64;
        source.WriteTo(p.AsSpan(8));
        destination.WriteTo(p.AsSpan(24));
        p[40] = reply ? (byte)129 : (byte)128;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(44), id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(46), sequence);
        for (int i = 0; i < payloadLength; i++)
        {
            p[48 + i] = (byte)i;
        }

        uint pseudo = Sum(p.AsSpan(8, 32)) + (uint)icmpLength + 58;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(42), Checksum(p.AsSpan(40), pseudo));
        return p;
    }

    /// <summary>If <paramref name="packet"/> is an echo request, the matching reply (addresses swapped); else null.</summary>
    public static byte[]? ReplyTo(ReadOnlySpan<byte> packet)
    {
        if (packet.Length >= 28 && packet[0] >> 4 == 4 && packet[9] == 1 && packet[20] == 8)
        {
            int ihl = (packet[0] & 15) * 4;
            return EchoV4(NetAddress.ReadV4(packet[16..]), NetAddress.ReadV4(packet[12..]),
                BinaryPrimitives.ReadUInt16BigEndian(packet[(ihl + 4)..]), BinaryPrimitives.ReadUInt16BigEndian(packet[(ihl + 6)..]), reply: true, packet.Length - ihl - 8);
        }

        if (packet.Length >= 48 && packet[0] >> 4 == 6 && packet[6] == 58 && packet[40] == 128)
        {
            return EchoV6(NetAddress.ReadV6(packet[24..]), NetAddress.ReadV6(packet[8..]),
                BinaryPrimitives.ReadUInt16BigEndian(packet[44..]), BinaryPrimitives.ReadUInt16BigEndian(packet[46..]), reply: true, packet.Length - 48);
        }

        return null;
    }

    /// <summary>True when <paramref name="packet"/> is an echo reply (v4 or v6) with this id and sequence.</summary>
    public static bool IsEchoReply(ReadOnlySpan<byte> packet, ushort id, ushort sequence)
    {
        if (packet.Length >= 28 && packet[0] >> 4 == 4 && packet[9] == 1)
        {
            int ihl = (packet[0] & 15) * 4;
            return packet[ihl] == 0 && BinaryPrimitives.ReadUInt16BigEndian(packet[(ihl + 4)..]) == id && BinaryPrimitives.ReadUInt16BigEndian(packet[(ihl + 6)..]) == sequence;
        }

        return packet.Length >= 48 && packet[0] >> 4 == 6 && packet[6] == 58 && packet[40] == 129 &&
            BinaryPrimitives.ReadUInt16BigEndian(packet[44..]) == id && BinaryPrimitives.ReadUInt16BigEndian(packet[46..]) == sequence;
    }

    private static uint Sum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }

        return sum;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, uint initial)
    {
        uint sum = initial + Sum(data);
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
