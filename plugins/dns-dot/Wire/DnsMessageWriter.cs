using System.Buffers.Binary;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>Writes the messages the gateway originates: upstream queries, client answers, error and local answers.</summary>
internal static class DnsMessageWriter
{
    /// <summary>Size of the OPT record we append (root owner, no options).</summary>
    public const int OptSize = 11;

    /// <summary>
    /// Writes the query sent upstream with id 0 (the connection assigns one): the client's flags RD/CD/AD,
    /// its question as received (0x20 case kept), and an OPT of our own carrying the client's DO bit and
    /// options except per-hop ones (cookie, keepalive, padding) and, unless <paramref name="forwardClientSubnet"/>,
    /// EDNS Client Subnet; then an empty keepalive (RFC 7828 §3.2.1) and padding to a multiple of
    /// 128 octets (RFC 8467 §4.1).
    /// </summary>
    /// <returns>The message length; <paramref name="destination"/> needs room for the query plus 140 bytes.</returns>
    public static int WriteUpstreamQuery(ReadOnlySpan<byte> query, in DnsRequestInfo info, Span<byte> destination, bool forwardClientSubnet)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)(info.Flags & (DnsConstants.FlagRd | DnsConstants.FlagCd | DnsConstants.FlagAd)));
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 1);
        query[DnsConstants.HeaderSize..info.QuestionEnd].CopyTo(destination[DnsConstants.HeaderSize..]);
        int position = info.QuestionEnd;
        destination[position] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 1)..], DnsConstants.TypeOpt);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 3)..], DnsConstants.DefaultUdpPayloadSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(position + 5)..], info.DnssecOk ? DnsConstants.EdnsDoBit : 0);
        int rdLengthAt = position + 9;
        position += OptSize;
        int rdataStart = position;
        if (info.HasOpt)
        {
            ReadOnlySpan<byte> options = query.Slice(info.OptRdataOffset, info.OptRdataLength);
            int at = 0;
            while (at + 4 <= options.Length)
            {
                ushort code = BinaryPrimitives.ReadUInt16BigEndian(options[at..]);
                int length = 4 + BinaryPrimitives.ReadUInt16BigEndian(options[(at + 2)..]);
                bool perHop = code is DnsConstants.OptionCookie or DnsConstants.OptionTcpKeepalive or DnsConstants.OptionPadding;
                if (!perHop && (forwardClientSubnet || code != DnsConstants.OptionClientSubnet))
                {
                    options.Slice(at, length).CopyTo(destination[position..]);
                    position += length;
                }

                at += length;
            }
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination[position..], (uint)DnsConstants.OptionTcpKeepalive << 16);
        position += 4;

        int padded = position + 4;
        int padding = (DnsConstants.QueryPaddingBlock - (padded % DnsConstants.QueryPaddingBlock)) % DnsConstants.QueryPaddingBlock;
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], DnsConstants.OptionPadding);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 2)..], (ushort)padding);
        destination.Slice(position + 4, padding).Clear();
        position = padded + padding;
        BinaryPrimitives.WriteUInt16BigEndian(destination[rdLengthAt..], (ushort)(position - rdataStart));
        return position;
    }

    /// <summary>
    /// The length <see cref="WriteUpstreamQuery"/> would write for this query, without writing it: a TCP query of
    /// up to 65,535 bytes grows by our OPT, keepalive and padding, and a frame longer than its 2-byte length field
    /// can say must never be written (RFC 1035 §4.2.2; issue 13: a wrapped length desynchronises a connection
    /// shared by every client).
    /// </summary>
    public static int UpstreamQueryLength(ReadOnlySpan<byte> query, in DnsRequestInfo info, bool forwardClientSubnet)
    {
        int position = info.QuestionEnd + OptSize;
        if (info.HasOpt)
        {
            ReadOnlySpan<byte> options = query.Slice(info.OptRdataOffset, info.OptRdataLength);
            int at = 0;
            while (at + 4 <= options.Length)
            {
                ushort code = BinaryPrimitives.ReadUInt16BigEndian(options[at..]);
                int length = 4 + BinaryPrimitives.ReadUInt16BigEndian(options[(at + 2)..]);
                bool perHop = code is DnsConstants.OptionCookie or DnsConstants.OptionTcpKeepalive or DnsConstants.OptionPadding;
                if (!perHop && (forwardClientSubnet || code != DnsConstants.OptionClientSubnet))
                {
                    position += length;
                }

                at += length;
            }
        }

        int padded = position + 4 + 4;
        return padded + ((DnsConstants.QueryPaddingBlock - (padded % DnsConstants.QueryPaddingBlock)) % DnsConstants.QueryPaddingBlock);
    }

    /// <summary>
    /// Writes an answer carrying only a response code (FORMERR, SERVFAIL, NXDOMAIN, REFUSED, NOTIMP, BADVERS
    /// or NOERROR/NODATA), echoing the question when the query had a readable one, and an OPT if it had one
    /// (RFC 6891 §7); a 12-bit <paramref name="rcode"/> puts its upper 8 bits in the OPT (§6.1.3).
    /// </summary>
    public static int WriteRcode(ReadOnlySpan<byte> query, in DnsRequestInfo info, bool echoQuestion, int rcode, Span<byte> destination)
    {
        int position = WriteResponseHeader(query, info, echoQuestion, rcode & DnsConstants.RcodeMask, destination);
        return AppendOpt(destination, position, info, (byte)(rcode >> 4));
    }

    /// <summary>
    /// Writes a local answer: an A record for an A query and an IPv4 address, AAAA for AAAA and IPv6,
    /// otherwise NOERROR with no answer (NODATA).
    /// </summary>
    public static int WriteAddressAnswer(ReadOnlySpan<byte> query, in DnsRequestInfo info, ReadOnlySpan<NetAddress> addresses, int ttl, Span<byte> destination)
    {
        int position = WriteResponseHeader(query, info, echoQuestion: true, DnsConstants.RcodeNoError, destination);
        destination[2] |= DnsConstants.FlagAa >> 8;
        if (info.QClass != DnsConstants.ClassIn)
        {
            return AppendOpt(destination, position, info, 0);
        }

        ushort count = 0;
        foreach (NetAddress address in addresses)
        {
            // One RR per address of the queried family; other types get NOERROR with no data (RFC 2308 §2.2).
            if (!((info.QType == DnsConstants.TypeA && address.IsV4) || (info.QType == DnsConstants.TypeAaaa && address.IsV6)) ||
                position + 12 + address.ByteLength > destination.Length - 11)
            {
                continue;
            }

            // Owner: a pointer to the question name (RFC 1035 §4.1.4).
            BinaryPrimitives.WriteUInt16BigEndian(destination[position..], 0xC000 | DnsConstants.HeaderSize);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 2)..], info.QType);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 4)..], DnsConstants.ClassIn);
            BinaryPrimitives.WriteUInt32BigEndian(destination[(position + 6)..], (uint)ttl);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 10)..], (ushort)address.ByteLength);
            address.WriteTo(destination[(position + 12)..]);
            position += 12 + address.ByteLength;
            count++;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], count);
        return AppendOpt(destination, position, info, 0);
    }

    /// <summary>
    /// Removes the OPT record found by <see cref="DnsMessageReader.TryScanResponse"/> from an upstream
    /// response in place (it is per hop: ours go to the client), dropping trailing bytes too.
    /// </summary>
    /// <returns>The new length.</returns>
    public static int StripOpt(Span<byte> message, in DnsResponseInfo response)
    {
        if (response.OptStart < 0)
        {
            return response.Length;
        }

        int optLength = response.OptEnd - response.OptStart;
        message[response.OptEnd..response.Length].CopyTo(message[response.OptStart..]);
        ushort arCount = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        BinaryPrimitives.WriteUInt16BigEndian(message[10..], (ushort)(arCount - 1));
        int length = response.Length - optLength;
        if (response.OptEnd < response.Length)
        {
            // Records followed the OPT: their pointers to names behind it moved with them. The question's last byte
            // is a root label (TryScanResponse matched it uncompressed), the target for pointers into the OPT itself.
            int root = BinaryPrimitives.ReadUInt16BigEndian(message[4..]) == 0 ? 0 : FindQuestionRoot(message);
            DnsPointerShift.AfterCut(message, response.OptStart, length, response.OptStart, response.OptEnd, root);
        }

        return length;
    }

    private static int FindQuestionRoot(ReadOnlySpan<byte> message) =>
        DnsName.TryExpand(message, DnsConstants.HeaderSize, Span<byte>.Empty, out int length, out _) ? DnsConstants.HeaderSize + length - 1 : 0;

    /// <summary>
    /// Turns a response body without OPT (at the start of <paramref name="message"/>) into the client's
    /// answer in place: the client's id and question spelling, TTLs aged by <paramref name="elapsedSeconds"/>
    /// (RFC 1035 §7.3, cached answers), an OPT when the client sent one (RFC 6891 §7), and TC with only
    /// the question when it exceeds <paramref name="limit"/> (RFC 1035 §4.2.1, RFC 2181 §9).
    /// </summary>
    /// <returns>The answer's length.</returns>
    public static int FinishAnswer(Span<byte> message, int bodyLength, ReadOnlySpan<byte> query, in DnsRequestInfo info,
        ReadOnlySpan<int> ttlOffsets, uint elapsedSeconds, byte extendedRcode, int limit)
    {
        BinaryPrimitives.WriteUInt16BigEndian(message, info.Id);
        // The body answers the same question; give it back in the client's own case (0x20 clients check).
        query.Slice(DnsConstants.HeaderSize, info.NameLength).CopyTo(message[DnsConstants.HeaderSize..]);
        if (elapsedSeconds > 0)
        {
            foreach (int offset in ttlOffsets)
            {
                uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[offset..]);
                BinaryPrimitives.WriteUInt32BigEndian(message[offset..], ttl > elapsedSeconds ? ttl - elapsedSeconds : 0);
            }
        }

        int optSize = info.HasOpt ? OptSize : 0;
        if (bodyLength + optSize <= limit)
        {
            return AppendOpt(message, bodyLength, info, extendedRcode);
        }

        message[2] |= DnsConstants.FlagTc >> 8;
        BinaryPrimitives.WriteUInt16BigEndian(message[6..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(message[8..], 0);
        return AppendOpt(message, info.QuestionEnd, info, extendedRcode);
    }

    /// <summary>Writes a response header (QR, RA, RD copied) and the echoed question; returns the offset after it.</summary>
    private static int WriteResponseHeader(ReadOnlySpan<byte> query, in DnsRequestInfo info, bool echoQuestion, int rcode, Span<byte> destination)
    {
        ushort flags = (ushort)(DnsConstants.FlagQr | DnsConstants.FlagRa | (info.Flags & (DnsConstants.FlagRd | DnsConstants.FlagCd | DnsConstants.OpcodeMask)) | (rcode & DnsConstants.RcodeMask));
        BinaryPrimitives.WriteUInt16BigEndian(destination, info.Id);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)(echoQuestion ? 1 : 0));
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 0);
        if (!echoQuestion)
        {
            return DnsConstants.HeaderSize;
        }

        query[DnsConstants.HeaderSize..info.QuestionEnd].CopyTo(destination[DnsConstants.HeaderSize..]);
        return info.QuestionEnd;
    }

    /// <summary>Appends our OPT (RFC 6891 §6.1.2) when the client sent one, echoing its DO bit (RFC 3225 §3).</summary>
    private static int AppendOpt(Span<byte> message, int position, in DnsRequestInfo info, byte extendedRcode)
    {
        if (!info.HasOpt)
        {
            return position;
        }

        message[position] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message[(position + 1)..], DnsConstants.TypeOpt);
        BinaryPrimitives.WriteUInt16BigEndian(message[(position + 3)..], DnsConstants.DefaultUdpPayloadSize);
        BinaryPrimitives.WriteUInt32BigEndian(message[(position + 5)..], ((uint)extendedRcode << 24) | (info.DnssecOk ? DnsConstants.EdnsDoBit : 0));
        BinaryPrimitives.WriteUInt16BigEndian(message[(position + 9)..], 0);
        ushort arCount = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        BinaryPrimitives.WriteUInt16BigEndian(message[10..], (ushort)(arCount + 1));
        return position + OptSize;
    }
}
