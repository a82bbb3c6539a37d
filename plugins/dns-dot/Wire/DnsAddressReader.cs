using System.Buffers.Binary;
using System.Net;

namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>Reads the A or AAAA records of an answer (for the gateway's own lookups: name resolver, bootstrap).</summary>
internal static class DnsAddressReader
{
    /// <summary>
    /// Adds the addresses of type <paramref name="qtype"/> (A or AAAA) in the answer section of
    /// <paramref name="message"/> to <paramref name="addresses"/> (a CNAME chain's final records included, in
    /// order) and returns the response code, or -1 when the message cannot be read. <paramref name="minTtl"/> is
    /// the smallest TTL of those records (uint.MaxValue when there are none).
    /// </summary>
    public static int Read(ReadOnlySpan<byte> message, ushort qtype, List<IPAddress> addresses, out uint minTtl)
    {
        minTtl = uint.MaxValue;
        if (message.Length < DnsConstants.HeaderSize)
        {
            return -1;
        }

        int rcode = message[3] & DnsConstants.RcodeMask;
        int qdCount = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int anCount = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int position = DnsConstants.HeaderSize;
        for (int i = 0; i < qdCount; i++)
        {
            if (!DnsName.TrySkip(message, position, out position) || position + 4 > message.Length)
            {
                return -1;
            }

            position += 4;
        }

        int size = qtype == DnsConstants.TypeA ? 4 : 16;
        for (int i = 0; i < anCount; i++)
        {
            if (!DnsName.TrySkip(message, position, out position) || position + 10 > message.Length)
            {
                return -1;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[position..]);
            ushort @class = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 2)..]);
            uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(position + 4)..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 8)..]);
            position += 10;
            if (position + length > message.Length)
            {
                return -1;
            }

            if (type == qtype && @class == DnsConstants.ClassIn && length == size)
            {
                addresses.Add(new IPAddress(message.Slice(position, length)));
                minTtl = Math.Min(minTtl, ttl);
            }

            position += length;
        }

        return rcode;
    }
}
