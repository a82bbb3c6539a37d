using System.Buffers.Binary;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.Records;

/// <summary>
/// A local CNAME chain that ends outside local data (<c>"away.home.test CNAME outside.example"</c>): the resolver
/// asks the upstream for the last target (<see cref="TargetQuery"/>) and this joins the answers, as unbound does
/// for local-data CNAMEs: the client's question, the local CNAMEs, then the upstream's answer records for the
/// target (names written out in full: the upstream's compression pointers mean nothing in our message), with the
/// upstream's rcode. Created per such query (rare: an allocation is fine here).
/// </summary>
internal sealed class CnameSplice
{
    private readonly byte[] _prefix;
    private readonly int _questionEnd;
    private readonly ushort _localAnswers;
    private readonly DnsRequestInfo _client;

    private CnameSplice(byte[] prefix, int questionEnd, ushort localAnswers, DnsRequestInfo client, byte[] targetQuery, DnsRequestInfo targetInfo)
    {
        _prefix = prefix;
        _questionEnd = questionEnd;
        _localAnswers = localAnswers;
        _client = client;
        TargetQuery = targetQuery;
        TargetInfo = targetInfo;
    }

    /// <summary>The client's header and question (the query log shows the client's question, not the target's).</summary>
    public ReadOnlySpan<byte> ClientQuery => _prefix.AsSpan(0, _questionEnd);

    /// <summary>The query sent upstream for the chain's last target (same type, RD, the client's DO bit).</summary>
    public byte[] TargetQuery { get; }

    /// <summary><see cref="TargetQuery"/> as parsed.</summary>
    public DnsRequestInfo TargetInfo { get; }

    /// <summary>
    /// Prepares the splice: <paramref name="localAnswer"/> is the local answer written so far (header, question,
    /// the chain's CNAMEs, maybe an OPT); <paramref name="chainEnd"/> where its CNAMEs end.
    /// </summary>
    public static CnameSplice Create(ReadOnlySpan<byte> localAnswer, int chainEnd, in DnsRequestInfo client, string target)
    {
        ushort answers = BinaryPrimitives.ReadUInt16BigEndian(localAnswer[6..]);
        byte[] name = PresentationName.ToWire(target);
        bool opt = client.HasOpt;
        var query = new byte[DnsConstants.HeaderSize + name.Length + 4 + (opt ? DnsMessageWriter.OptSize : 0)];
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(2), DnsConstants.FlagRd);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(4), 1);
        name.CopyTo(query, DnsConstants.HeaderSize);
        int at = DnsConstants.HeaderSize + name.Length;
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(at), client.QType);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(at + 2), client.QClass);
        if (opt)
        {
            BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(10), 1);
            at += 4;
            query[at] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(at + 1), DnsConstants.TypeOpt);
            BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(at + 3), DnsConstants.DefaultUdpPayloadSize);
            BinaryPrimitives.WriteUInt32BigEndian(query.AsSpan(at + 5), client.DnssecOk ? DnsConstants.EdnsDoBit : 0);
        }

        DnsMessageReader.TryParseQuery(query, out DnsRequestInfo targetInfo);
        return new CnameSplice(localAnswer[..chainEnd].ToArray(), client.QuestionEnd, answers, client, query, targetInfo);
    }

    /// <summary>The joined answer from the upstream's answer for the target (<paramref name="upstream"/>, without OPT).</summary>
    public int Complete(ReadOnlySpan<byte> upstream, Span<byte> destination, int limit)
    {
        _prefix.CopyTo(destination);
        int position = _prefix.Length;
        int answers = _localAnswers;
        int rcode = upstream.Length >= 4 ? upstream[3] & DnsConstants.RcodeMask : DnsConstants.RcodeServFail;
        if (upstream.Length >= DnsConstants.HeaderSize)
        {
            int count = BinaryPrimitives.ReadUInt16BigEndian(upstream[6..]);
            int at = SkipQuestions(upstream);
            for (int i = 0; i < count && at > 0; i++)
            {
                at = CopyRecord(upstream, at, destination, ref position);
                if (at > 0)
                {
                    answers++;
                }
            }
        }

        // RA and the upstream's rcode (NXDOMAIN for a target that does not exist, RFC 6604 §2); AA no longer holds.
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(destination[2..]);
        flags = (ushort)((flags & ~(DnsConstants.FlagAa | DnsConstants.RcodeMask)) | rcode);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], flags);
        return Finish(destination, position, answers, limit);
    }

    /// <summary>SERVFAIL for the client's question (the upstream did not answer).</summary>
    public int Fail(Span<byte> destination)
    {
        _prefix.AsSpan(0, _questionEnd).CopyTo(destination);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(destination[2..]);
        flags = (ushort)((flags & ~(DnsConstants.FlagAa | DnsConstants.RcodeMask)) | DnsConstants.RcodeServFail);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], flags);
        return Finish(destination, _questionEnd, 0, int.MaxValue);
    }

    private int Finish(Span<byte> destination, int position, int answers, int limit)
    {
        int optSize = _client.HasOpt ? DnsMessageWriter.OptSize : 0;
        if (position + optSize > limit)
        {
            destination[2] |= DnsConstants.FlagTc >> 8;
            position = _questionEnd;
            answers = 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)answers);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], 0);
        if (_client.HasOpt)
        {
            destination[position] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 1)..], DnsConstants.TypeOpt);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 3)..], DnsConstants.DefaultUdpPayloadSize);
            BinaryPrimitives.WriteUInt32BigEndian(destination[(position + 5)..], _client.DnssecOk ? DnsConstants.EdnsDoBit : 0);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 9)..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 1);
            position += DnsMessageWriter.OptSize;
        }

        return position;
    }

    private static int SkipQuestions(ReadOnlySpan<byte> message)
    {
        int count = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int at = DnsConstants.HeaderSize;
        for (int i = 0; i < count; i++)
        {
            if (!DnsName.TrySkip(message, at, out int end) || end + 4 > message.Length)
            {
                return -1;
            }

            at = end + 4;
        }

        return at;
    }

    // Copies one RR with its names expanded; returns the offset after it in the source, or -1 when malformed.
    private static int CopyRecord(ReadOnlySpan<byte> source, int at, Span<byte> destination, ref int position)
    {
        Span<byte> name = stackalloc byte[DnsConstants.MaxNameLength + 1];
        if (!DnsName.TryExpand(source, at, name, out int nameLength, out int end) || end + 10 > source.Length)
        {
            return -1;
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(source[end..]);
        int rdLength = BinaryPrimitives.ReadUInt16BigEndian(source[(end + 8)..]);
        int rdata = end + 10;
        if (rdata + rdLength > source.Length || position + nameLength + 10 + rdLength + DnsConstants.MaxNameLength + 64 > destination.Length)
        {
            return -1;
        }

        int start = position;
        name[..nameLength].CopyTo(destination[position..]);
        position += nameLength;
        source.Slice(end, 8).CopyTo(destination[position..]);
        int rdLengthAt = position + 8;
        position += 10;
        int fixedPart = type switch
        {
            (ushort)Rules.DnsType.CNAME or (ushort)Rules.DnsType.NS or (ushort)Rules.DnsType.PTR or 39 => 0,
            (ushort)Rules.DnsType.MX => 2,
            (ushort)Rules.DnsType.SRV => 6,
            _ => -1,
        };
        if (fixedPart < 0 || rdLength < fixedPart)
        {
            source.Slice(rdata, rdLength).CopyTo(destination[position..]);
            position += rdLength;
        }
        else
        {
            source.Slice(rdata, fixedPart).CopyTo(destination[position..]);
            position += fixedPart;
            if (!DnsName.TryExpand(source, rdata + fixedPart, name, out int targetLength, out _))
            {
                position = start;
                return -1;
            }

            name[..targetLength].CopyTo(destination[position..]);
            position += targetLength;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[rdLengthAt..], (ushort)(position - rdLengthAt - 2));
        return rdata + rdLength;
    }
}
