using System.Buffers.Binary;

namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>Reads client queries and upstream responses without copying them (RFC 1035 §4, RFC 6891).</summary>
internal static class DnsMessageReader
{
    /// <summary>
    /// Reads a client query. Every malformation gives <see cref="DnsParseStatus.FormErr"/>, another opcode
    /// <see cref="DnsParseStatus.NotImp"/>, an EDNS version above 0 <see cref="DnsParseStatus.BadVersion"/>
    /// (or <see cref="DnsParseStatus.Ignore"/> when not even a header is there); never throws. Whatever the
    /// status, <see cref="DnsRequestInfo.HasOpt"/> and <see cref="DnsRequestInfo.DnssecOk"/> say whether the
    /// client spoke EDNS as far as the message could be read, so that error answers carry an OPT too
    /// (RFC 6891 §7).
    /// </summary>
    public static DnsParseStatus TryParseQuery(ReadOnlySpan<byte> message, out DnsRequestInfo info)
    {
        info = default;
        if (message.Length < DnsConstants.HeaderSize)
        {
            return DnsParseStatus.Ignore;
        }

        info.Id = BinaryPrimitives.ReadUInt16BigEndian(message);
        info.Flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if ((info.Flags & DnsConstants.FlagQr) != 0)
        {
            // Never answer a response: that is how reflection loops start.
            return DnsParseStatus.Ignore;
        }

        DnsParseStatus status = (info.Flags & DnsConstants.OpcodeMask) != 0 ? DnsParseStatus.NotImp : DnsParseStatus.Ok;
        int qdCount = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int anCount = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int nsCount = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int arCount = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);

        // RFC 9619: exactly one question. Other counts are still walked, to find an OPT for the error answer.
        if (qdCount != 1 && status == DnsParseStatus.Ok)
        {
            status = DnsParseStatus.FormErr;
        }

        int position = DnsConstants.HeaderSize;
        for (int q = 0; q < qdCount; q++)
        {
            int start = position;
            if (!DnsName.TrySkip(message, position, out position) || position + 4 > message.Length)
            {
                return Worst(status, DnsParseStatus.FormErr);
            }

            if (q == 0 && qdCount == 1)
            {
                // The question name is the first name in the message: there is nothing before it a pointer
                // could legitimately refer to, so a compressed question is malformed.
                if (!DnsName.TryExpand(message, start, Span<byte>.Empty, out int nameLength, out int nameEnd) || nameEnd != start + nameLength)
                {
                    return Worst(status, DnsParseStatus.FormErr);
                }

                info.NameLength = nameLength;
                info.QType = BinaryPrimitives.ReadUInt16BigEndian(message[nameEnd..]);
                info.QClass = BinaryPrimitives.ReadUInt16BigEndian(message[(nameEnd + 2)..]);
                info.QuestionEnd = nameEnd + 4;
                if (info.QType == DnsConstants.TypeOpt)
                {
                    status = Worst(status, DnsParseStatus.FormErr);
                }
            }

            position += 4;
        }

        int records = anCount + nsCount + arCount;
        for (int i = 0; i < records; i++)
        {
            int owner = position;
            if (!DnsName.TrySkip(message, position, out position) || position + 10 > message.Length)
            {
                return Worst(status, DnsParseStatus.FormErr);
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[position..]);
            int rdLength = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 8)..]);
            int rdata = position + 10;
            if (rdata + rdLength > message.Length)
            {
                return Worst(status, DnsParseStatus.FormErr);
            }

            if (type == DnsConstants.TypeOpt)
            {
                // RFC 6891 §6.1.1: one OPT, owned by the root, in the additional section; a broken OPT is
                // answered FORMERR with an OPT (§7), so the client is marked as speaking EDNS either way.
                bool misplaced = info.HasOpt || i < anCount + nsCount || message[owner] != 0 || position != owner + 1;
                if (!info.HasOpt)
                {
                    info.HasOpt = true;
                    info.UdpSize = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 2)..]);
                    uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(position + 4)..]);
                    info.EdnsVersion = (byte)(ttl >> 16);
                    info.DnssecOk = (ttl & DnsConstants.EdnsDoBit) != 0;
                    info.OptRdataOffset = rdata;
                    info.OptRdataLength = rdLength;
                }

                if (misplaced || !TryScanOptions(message.Slice(rdata, rdLength), out info.HasClientSubnet))
                {
                    status = Worst(status, DnsParseStatus.FormErr);
                }
            }

            position = rdata + rdLength;
        }

        // RFC 6891 §6.1.3: we implement EDNS version 0 only.
        if (status == DnsParseStatus.Ok && info.HasOpt && info.EdnsVersion > 0)
        {
            return DnsParseStatus.BadVersion;
        }

        return status;
    }

    // NOTIMP wins over FORMERR (the opcode decides first, as RFC 1035 §4.1.1 lists them), FORMERR over the rest.
    private static DnsParseStatus Worst(DnsParseStatus current, DnsParseStatus found) =>
        current == DnsParseStatus.NotImp ? current : found;

    /// <summary>Checks an OPT option list is well formed; reports whether it holds a client subnet option.</summary>
    private static bool TryScanOptions(ReadOnlySpan<byte> options, out bool hasClientSubnet)
    {
        hasClientSubnet = false;
        int position = 0;
        while (position < options.Length)
        {
            if (position + 4 > options.Length)
            {
                return false;
            }

            ushort code = BinaryPrimitives.ReadUInt16BigEndian(options[position..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(options[(position + 2)..]);
            position += 4 + length;
            if (position > options.Length)
            {
                return false;
            }

            if (code == DnsConstants.OptionClientSubnet)
            {
                // RFC 7871 §7.1.1: an unknown FAMILY or a SOURCE PREFIX-LENGTH beyond the address is answered FORMERR.
                if (!IsValidClientSubnet(options.Slice(position - length, length)))
                {
                    return false;
                }

                hasClientSubnet = true;
            }
        }

        return true;
    }

    /// <summary>RFC 7871 §6: FAMILY 1 or 2, SOURCE PREFIX-LENGTH within the address, and just the address octets it covers.</summary>
    private static bool IsValidClientSubnet(ReadOnlySpan<byte> option)
    {
        if (option.Length < 4)
        {
            return false;
        }

        int family = BinaryPrimitives.ReadUInt16BigEndian(option);
        int source = option[2];
        int bits = family == 1 ? 32 : family == 2 ? 128 : -1;
        return source <= bits && option.Length - 4 == (source + 7) / 8;
    }

    /// <summary>
    /// Reads an upstream response: checks it answers <paramref name="questionName"/>/<paramref name="qtype"/>,
    /// finds the OPT record, the TTL fields (for the cache) and the TTL the answer may be cached for
    /// (minimum over answers; RFC 2308 §5 for negative answers). Never throws.
    /// </summary>
    /// <param name="ttlOffsets">Receives the offsets of non-OPT TTL fields; may be empty when not needed.</param>
    public static bool TryScanResponse(ReadOnlySpan<byte> message, ReadOnlySpan<byte> questionName, ushort qtype, Span<int> ttlOffsets, out DnsResponseInfo info)
    {
        info = default;
        if (message.Length < DnsConstants.HeaderSize)
        {
            return false;
        }

        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        int qdCount = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int anCount = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int nsCount = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int arCount = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        if ((flags & DnsConstants.FlagQr) == 0 || qdCount != 1)
        {
            return false;
        }

        int nameEnd = DnsConstants.HeaderSize + questionName.Length;
        if (nameEnd + 4 > message.Length ||
            !DnsName.EqualsIgnoreCase(message.Slice(DnsConstants.HeaderSize, questionName.Length), questionName) ||
            BinaryPrimitives.ReadUInt16BigEndian(message[nameEnd..]) != qtype)
        {
            return false;
        }

        info.Rcode = flags & DnsConstants.RcodeMask;
        info.Truncated = (flags & DnsConstants.FlagTc) != 0;
        info.OptStart = -1;
        // No OPT, no keepalive offered: 0 would mean "close this connection" (RFC 7828 §3.3.2; found by the differential tests).
        info.KeepaliveTimeout = -1;
        uint minTtl = uint.MaxValue;
        uint negativeTtl = uint.MaxValue;
        int position = nameEnd + 4;
        int total = anCount + nsCount + arCount;
        for (int i = 0; i < total; i++)
        {
            int owner = position;
            if (!DnsName.TrySkip(message, position, out position) || position + 10 > message.Length ||
                ReadsRewrittenBytes(message, owner, ttlOffsets[..Math.Min(info.TtlCount, ttlOffsets.Length)], info.OptStart, info.OptEnd))
            {
                return false;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[position..]);
            uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(position + 4)..]);
            int rdLength = BinaryPrimitives.ReadUInt16BigEndian(message[(position + 8)..]);
            int rdata = position + 10;
            if (rdata + rdLength > message.Length)
            {
                return false;
            }

            if (type != DnsConstants.TypeOpt && ttl > int.MaxValue)
            {
                // RFC 2181 §8: a TTL with the top bit set counts as 0 (else the cache would keep it for decades;
                // found by the differential tests).
                ttl = 0;
            }

            if (type == DnsConstants.TypeOpt)
            {
                if (info.OptStart >= 0 || i < anCount + nsCount)
                {
                    return false;
                }

                info.OptStart = owner;
                info.OptEnd = rdata + rdLength;
                info.ExtendedRcode = (byte)(ttl >> 24);
                info.KeepaliveTimeout = FindKeepalive(message.Slice(rdata, rdLength));
            }
            else
            {
                if (info.TtlCount < ttlOffsets.Length)
                {
                    ttlOffsets[info.TtlCount] = position + 4;
                }

                info.TtlCount++;
                if (i < anCount)
                {
                    minTtl = Math.Min(minTtl, ttl);
                }
                else if (i < anCount + nsCount && type == DnsConstants.TypeSoa && rdLength >= 22)
                {
                    // RFC 2308 §5: a negative answer lives for min(SOA TTL, SOA MINIMUM).
                    uint minimum = BinaryPrimitives.ReadUInt32BigEndian(message[(rdata + rdLength - 4)..]);
                    negativeTtl = Math.Min(negativeTtl, Math.Min(ttl, minimum));
                }
            }

            position = rdata + rdLength;
        }

        info.Length = position;
        info.AnswerCount = anCount;
        info.CacheTtl = anCount > 0 && info.Rcode == DnsConstants.RcodeNoError ? minTtl :
            negativeTtl != uint.MaxValue ? negativeTtl : 0;
        info.IsNegative = anCount == 0 || info.Rcode == DnsConstants.RcodeNxDomain;
        return true;
    }

    /// <summary>
    /// Whether the (valid) name at <paramref name="offset"/> reads bytes we rewrite or cut before the client sees the
    /// answer, which would change the name under it: a TTL field at <paramref name="ttlOffsets"/> (ascending; the cache
    /// ages them in place), or the OPT record [<paramref name="optStart"/>, <paramref name="optEnd"/>) that
    /// <see cref="DnsMessageWriter.StripOpt"/> removes. A compression pointer into them or a label running over them
    /// both count. Found by fuzzing: an owner pointing into the previous answer's TTL became unreadable once aged; an
    /// owner pointing just before the OPT read on into it and became unreadable once the OPT was cut. Names inside
    /// RDATA are opaque here and passed on as the upstream wrote them.
    /// </summary>
    private static bool ReadsRewrittenBytes(ReadOnlySpan<byte> message, int offset, ReadOnlySpan<int> ttlOffsets, int optStart, int optEnd)
    {
        if (ttlOffsets.IsEmpty && optStart < 0)
        {
            return false;
        }

        int position = offset;
        while (true)
        {
            byte label = message[position];
            bool pointer = (label & 0xC0) == 0xC0;
            int end = position + (pointer ? 2 : 1 + label);
            if (optStart >= 0 && position < optEnd && end > optStart)
            {
                return true;
            }

            // The first TTL field that ends after this label starts; the label reads it if that field starts before the label ends.
            int low = 0;
            int high = ttlOffsets.Length;
            while (low < high)
            {
                int middle = (low + high) >>> 1;
                if (ttlOffsets[middle] + 4 <= position)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle;
                }
            }

            if (low < ttlOffsets.Length && ttlOffsets[low] < end)
            {
                return true;
            }

            if (pointer)
            {
                // TrySkip accepted the name, so every pointer goes strictly back: this ends.
                position = ((label & 0x3F) << 8) | message[position + 1];
            }
            else if (label == 0)
            {
                return false;
            }
            else
            {
                position = end;
            }
        }
    }

    /// <summary>The RFC 7828 keepalive timeout offered in an OPT option list, in 100 ms units; -1 if none.</summary>
    private static int FindKeepalive(ReadOnlySpan<byte> options)
    {
        int position = 0;
        while (position + 4 <= options.Length)
        {
            ushort code = BinaryPrimitives.ReadUInt16BigEndian(options[position..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(options[(position + 2)..]);
            if (position + 4 + length > options.Length)
            {
                return -1;
            }

            if (code == DnsConstants.OptionTcpKeepalive && length == 2)
            {
                return BinaryPrimitives.ReadUInt16BigEndian(options[(position + 4)..]);
            }

            position += 4 + length;
        }

        return -1;
    }
}
