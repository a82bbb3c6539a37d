using System.Buffers.Binary;

namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>
/// Keeps compression pointers (RFC 1035 §4.1.4) right when bytes are cut out of a message: the records after the cut
/// move back, so every pointer to a name behind the cut must move back too. Found by the differential tests: an
/// upstream answer whose OPT is not the last record lost its names once the OPT was stripped.
/// </summary>
internal static class DnsPointerShift
{
    /// <summary>
    /// Rewrites the pointers in the records from <paramref name="position"/> to <paramref name="end"/> (already moved)
    /// that point at or behind <paramref name="cutEnd"/> (old offsets), as bytes [<paramref name="cutStart"/>,
    /// <paramref name="cutEnd"/>) were removed. Pointers into the cut itself become the root name at
    /// <paramref name="rootOffset"/>. Owner names and the names in RDATA of the types RFC 3597 §4 lets a receiver
    /// decompress are covered; other RDATA is opaque and uncompressed by rule.
    /// </summary>
    public static void AfterCut(Span<byte> message, int position, int end, int cutStart, int cutEnd, int rootOffset)
    {
        while (position < end)
        {
            position = Name(message, position, end, cutStart, cutEnd, rootOffset);
            if (position < 0 || position + 10 > end)
            {
                return;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[position..]);
            int rdata = position + 10;
            int next = rdata + BinaryPrimitives.ReadUInt16BigEndian(message[(position + 8)..]);
            if (next > end)
            {
                return;
            }

            switch (type)
            {
                // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME: one name.
                case 2 or 3 or 4 or 5 or 7 or 8 or 9 or 12 or 39:
                    Name(message, rdata, next, cutStart, cutEnd, rootOffset);
                    break;

                // SOA, MINFO, RP: two names.
                case 6 or 14 or 17:
                    int second = Name(message, rdata, next, cutStart, cutEnd, rootOffset);
                    if (second >= 0)
                    {
                        Name(message, second, next, cutStart, cutEnd, rootOffset);
                    }

                    break;

                // MX, AFSDB, RT, KX: a 16-bit preference, then a name; PX: then two names.
                case 15 or 18 or 21 or 36 or 26:
                    int after = Name(message, rdata + 2, next, cutStart, cutEnd, rootOffset);
                    if (type == 26 && after >= 0)
                    {
                        Name(message, after, next, cutStart, cutEnd, rootOffset);
                    }

                    break;

                // SRV: priority, weight, port, target (RFC 2782 forbids compressing it; some servers do).
                case 33:
                    Name(message, rdata + 6, next, cutStart, cutEnd, rootOffset);
                    break;
            }

            position = next;
        }
    }

    /// <summary>Shifts the pointer ending the name at <paramref name="position"/>, if any; returns the offset after the name, or -1.</summary>
    private static int Name(Span<byte> message, int position, int end, int cutStart, int cutEnd, int rootOffset)
    {
        while (position < end)
        {
            byte label = message[position];
            if (label == 0)
            {
                return position + 1;
            }

            if ((label & 0xC0) == 0xC0)
            {
                if (position + 1 >= end)
                {
                    return -1;
                }

                int target = BinaryPrimitives.ReadUInt16BigEndian(message[position..]) & 0x3FFF;
                if (target >= cutEnd)
                {
                    target -= cutEnd - cutStart;
                }
                else if (target >= cutStart)
                {
                    target = rootOffset;
                }

                BinaryPrimitives.WriteUInt16BigEndian(message[position..], (ushort)(0xC000 | target));
                return position + 2;
            }

            if ((label & 0xC0) != 0)
            {
                return -1;
            }

            position += 1 + label;
        }

        return -1;
    }
}
