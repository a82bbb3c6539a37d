using System.Buffers.Binary;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>
/// Writes answers the gateway makes up itself (local records, blocked names) into the caller's buffer: header,
/// the client's question, resource records, and an OPT when the client sent one (RFC 6891 §7), optionally with
/// an Extended DNS Error (RFC 8914). Names are written uncompressed except the question's, which RRs may point to.
/// </summary>
internal ref struct ResponseBuilder
{
    /// <summary>RFC 8914 §4.16: INFO-CODE 15, "Blocked".</summary>
    public const ushort EdeBlocked = 15;

    /// <summary>RFC 8914 option code.</summary>
    private const ushort OptionExtendedError = 15;

    /// <summary>A compression pointer to the question name at offset 12 (RFC 1035 §4.1.4).</summary>
    private const ushort QuestionPointer = 0xC000 | DnsConstants.HeaderSize;

    private readonly Span<byte> _destination;
    private readonly int _questionEnd;
    private int _position;
    private ushort _answers;
    private ushort _authority;
    private bool _overflow;

    /// <summary>Starts a response to <paramref name="query"/> with <paramref name="rcode"/>; AA when <paramref name="authoritative"/>.</summary>
    public ResponseBuilder(ReadOnlySpan<byte> query, in DnsRequestInfo info, int rcode, bool authoritative, Span<byte> destination)
    {
        _destination = destination;
        ushort flags = (ushort)(DnsConstants.FlagQr | DnsConstants.FlagRa | (info.Flags & (DnsConstants.FlagRd | DnsConstants.FlagCd | DnsConstants.OpcodeMask)) | (rcode & DnsConstants.RcodeMask));
        if (authoritative)
        {
            flags |= DnsConstants.FlagAa;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, info.Id);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 0);
        query[DnsConstants.HeaderSize..info.QuestionEnd].CopyTo(destination[DnsConstants.HeaderSize..]);
        _questionEnd = info.QuestionEnd;
        _position = info.QuestionEnd;
    }

    /// <summary>Where the next record would be written.</summary>
    public readonly int Position => _position;

    /// <summary>Answer records written so far.</summary>
    public readonly int AnswerCount => _answers;

    /// <summary>An answer RR whose owner is the question name.</summary>
    public void AnswerAtQuestion(ushort type, uint ttl, scoped ReadOnlySpan<byte> rdata) => Record(ReadOnlySpan<byte>.Empty, type, ttl, rdata, authority: false);

    /// <summary>An answer RR with the owner <paramref name="wireOwner"/> (uncompressed wire form; empty = the question name).</summary>
    public void Answer(scoped ReadOnlySpan<byte> wireOwner, ushort type, uint ttl, scoped ReadOnlySpan<byte> rdata) => Record(wireOwner, type, ttl, rdata, authority: false);

    /// <summary>
    /// A SOA in the authority section so that a negative answer is cached for <paramref name="ttl"/> seconds
    /// (RFC 2308 §3): owner the question name, made-up MNAME/RNAME under the ".invalid" TLD (RFC 6761 §6.4).
    /// </summary>
    public void NegativeSoa(uint ttl)
    {
        ReadOnlySpan<byte> mname = "\u0007blocked\u0007gateway\u0007invalid\u0000"u8;
        ReadOnlySpan<byte> rname = "\u000Ahostmaster\u0007gateway\u0007invalid\u0000"u8;
        Span<byte> rdata = stackalloc byte[mname.Length + rname.Length + 20];
        mname.CopyTo(rdata);
        rname.CopyTo(rdata[mname.Length..]);
        Span<byte> numbers = rdata[(mname.Length + rname.Length)..];
        BinaryPrimitives.WriteUInt32BigEndian(numbers, 1);
        BinaryPrimitives.WriteUInt32BigEndian(numbers[4..], 3600);
        BinaryPrimitives.WriteUInt32BigEndian(numbers[8..], 600);
        BinaryPrimitives.WriteUInt32BigEndian(numbers[12..], 86400);
        BinaryPrimitives.WriteUInt32BigEndian(numbers[16..], ttl);
        Record(ReadOnlySpan<byte>.Empty, DnsConstants.TypeSoa, ttl, rdata, authority: true);
    }

    /// <summary>
    /// Ends the message: the OPT when the client sent one (with an EDE of <paramref name="edeCode"/> and
    /// <paramref name="edeText"/> when <paramref name="edeCode"/> is not null), and TC with only the question when
    /// the message exceeds <paramref name="limit"/> (RFC 1035 §4.2.1). Returns the length.
    /// </summary>
    public int Finish(in DnsRequestInfo info, int limit, ushort? edeCode = null, scoped ReadOnlySpan<byte> edeText = default)
    {
        int optSize = !info.HasOpt ? 0 : DnsMessageWriter.OptSize + (edeCode is null ? 0 : 6 + edeText.Length);
        if (_overflow || _position + optSize > limit)
        {
            _destination[2] |= DnsConstants.FlagTc >> 8;
            _answers = 0;
            _authority = 0;
            _position = _questionEnd;
        }

        BinaryPrimitives.WriteUInt16BigEndian(_destination[6..], _answers);
        BinaryPrimitives.WriteUInt16BigEndian(_destination[8..], _authority);
        if (!info.HasOpt)
        {
            return _position;
        }

        Span<byte> opt = _destination[_position..];
        opt[0] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(opt[1..], DnsConstants.TypeOpt);
        BinaryPrimitives.WriteUInt16BigEndian(opt[3..], DnsConstants.DefaultUdpPayloadSize);
        BinaryPrimitives.WriteUInt32BigEndian(opt[5..], info.DnssecOk ? DnsConstants.EdnsDoBit : 0);
        int rdLength = 0;
        if (edeCode is { } code)
        {
            BinaryPrimitives.WriteUInt16BigEndian(opt[11..], OptionExtendedError);
            BinaryPrimitives.WriteUInt16BigEndian(opt[13..], (ushort)(2 + edeText.Length));
            BinaryPrimitives.WriteUInt16BigEndian(opt[15..], code);
            edeText.CopyTo(opt[17..]);
            rdLength = 6 + edeText.Length;
        }

        BinaryPrimitives.WriteUInt16BigEndian(opt[9..], (ushort)rdLength);
        BinaryPrimitives.WriteUInt16BigEndian(_destination[10..], 1);
        return _position + DnsMessageWriter.OptSize + rdLength;
    }

    private void Record(scoped ReadOnlySpan<byte> wireOwner, ushort type, uint ttl, scoped ReadOnlySpan<byte> rdata, bool authority)
    {
        int ownerLength = wireOwner.IsEmpty ? 2 : wireOwner.Length;
        int needed = ownerLength + 10 + rdata.Length;

        // Room for the record plus the largest OPT we may append (with a 255-byte EDE text).
        if (_overflow || _position + needed > _destination.Length - 300 || (authority ? _authority : _answers) == ushort.MaxValue)
        {
            _overflow = true;
            return;
        }

        Span<byte> at = _destination[_position..];
        if (wireOwner.IsEmpty)
        {
            BinaryPrimitives.WriteUInt16BigEndian(at, QuestionPointer);
        }
        else
        {
            wireOwner.CopyTo(at);
        }

        at = at[ownerLength..];
        BinaryPrimitives.WriteUInt16BigEndian(at, type);
        BinaryPrimitives.WriteUInt16BigEndian(at[2..], DnsConstants.ClassIn);
        BinaryPrimitives.WriteUInt32BigEndian(at[4..], ttl);
        BinaryPrimitives.WriteUInt16BigEndian(at[8..], (ushort)rdata.Length);
        rdata.CopyTo(at[10..]);
        _position += needed;
        if (authority)
        {
            _authority++;
        }
        else
        {
            _answers++;
        }
    }
}
