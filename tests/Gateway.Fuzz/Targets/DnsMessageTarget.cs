using System.Buffers.Binary;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// dns-dot's wire reader and writer (plugins/dns-dot/Wire). A message with QR clear goes the client-query path,
/// one with QR set the upstream-response path, so real captures of both seed it as they are.
/// </summary>
/// <remarks>
/// Invariants. Query: what the reader accepts has one uncompressed question inside the message; the upstream query
/// the writer derives from it is accepted again with the same question, DO bit and end-to-end options (per-hop ones
/// dropped, RFC 7828 keepalive added, padded to 128 octets, RFC 8467); every error answer the server can send for
/// it is a response the upstream reader accepts with that rcode. Response: what the reader accepts has consistent
/// offsets; with its OPT stripped and the client's answer finished (our OPT, TTLs aged, truncation at the limit)
/// it is accepted again with the same rcode, records and cache TTL.
/// </remarks>
internal sealed class DnsMessageTarget : IFuzzTarget
{
    private static readonly NetAddress[] Addresses = [NetAddress.Parse("192.0.2.1"), NetAddress.Parse("2001:db8::1")];

    private readonly byte[] _scratch = new byte[3 * 65536];
    private readonly byte[] _second = new byte[3 * 65536];
    private readonly int[] _ttls = new int[4096];
    private readonly int[] _ttlsAgain = new int[4096];

    public string Name => "dns";

    public string Description => "DNS queries and upstream responses: reader/writer round trips (plugins/dns-dot/Wire)";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.Length >= DnsConstants.HeaderSize && (input[2] & 0x80) != 0)
        {
            RunResponse(input);
        }
        else
        {
            RunQuery(input);
        }
    }

    private void RunQuery(ReadOnlySpan<byte> query)
    {
        DnsParseStatus status = DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info);
        if (query.Length < DnsConstants.HeaderSize)
        {
            Check(status == DnsParseStatus.Ignore, "a message shorter than a header was not ignored");
            return;
        }

        Check(status != DnsParseStatus.Ignore, "a query with a header was ignored");
        if (info.HasOpt)
        {
            Check(info.OptRdataOffset >= DnsConstants.HeaderSize && info.OptRdataOffset + info.OptRdataLength <= query.Length, "OPT rdata outside the message");
        }

        if (status == DnsParseStatus.Ok)
        {
            CheckAcceptedQuery(query, info);
            CheckUpstreamQuery(query, info);
            foreach (int rcode in (ReadOnlySpan<int>)[DnsConstants.RcodeServFail, DnsConstants.RcodeNxDomain, DnsConstants.RcodeRefused])
            {
                int length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, rcode, _scratch);
                CheckErrorAnswer(query, info, _scratch.AsSpan(0, length), rcode, echoed: true);
            }

            int answer = DnsMessageWriter.WriteAddressAnswer(query, info, Addresses, 300, _scratch);
            ReadOnlySpan<byte> name = query.Slice(DnsConstants.HeaderSize, info.NameLength);
            Check(DnsMessageReader.TryScanResponse(_scratch.AsSpan(0, answer), name, info.QType, _ttls, out DnsResponseInfo local), "a local answer is not readable");
            bool expected = info.QClass == DnsConstants.ClassIn && info.QType is DnsConstants.TypeA or DnsConstants.TypeAaaa;
            Check(local.AnswerCount == (expected ? 1 : 0) && local.Length == answer, "a local answer has the wrong records");
            return;
        }

        if (status == DnsParseStatus.BadVersion)
        {
            CheckAcceptedQuery(query, info);
            Check(info.HasOpt && info.EdnsVersion > 0, "BADVERS without an EDNS version above 0");
            int length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, DnsConstants.RcodeBadVers, _scratch);
            CheckErrorAnswer(query, info, _scratch.AsSpan(0, length), DnsConstants.RcodeBadVers, echoed: true);
            return;
        }

        // FORMERR / NOTIMP: the resolver answers with the header only (DnsResolver.Begin).
        info.QuestionEnd = DnsConstants.HeaderSize;
        int rcodeLength = DnsMessageWriter.WriteRcode(query, info, echoQuestion: false,
            status == DnsParseStatus.NotImp ? DnsConstants.RcodeNotImp : DnsConstants.RcodeFormErr, _scratch);
        ReadOnlySpan<byte> error = _scratch.AsSpan(0, rcodeLength);
        Check(rcodeLength == DnsConstants.HeaderSize + (info.HasOpt ? DnsMessageWriter.OptSize : 0), "an error answer has a body");
        Check((error[2] & 0x80) != 0 && BinaryPrimitives.ReadUInt16BigEndian(error) == info.Id, "an error answer is not a response to the query");
        Check((error[3] & 0x0F) == (status == DnsParseStatus.NotImp ? DnsConstants.RcodeNotImp : DnsConstants.RcodeFormErr), "an error answer carries the wrong rcode");
    }

    private static void CheckAcceptedQuery(ReadOnlySpan<byte> query, in DnsRequestInfo info)
    {
        Check(BinaryPrimitives.ReadUInt16BigEndian(query[4..]) == 1, "accepted a query without exactly one question");
        Check(info.NameLength is >= 1 and <= DnsConstants.MaxNameLength, "question name length out of range");
        Check(info.QuestionEnd == DnsConstants.HeaderSize + info.NameLength + 4 && info.QuestionEnd <= query.Length, "question end disagrees with the name");
        Check(DnsName.TryExpand(query, DnsConstants.HeaderSize, Span<byte>.Empty, out int length, out int end) && length == info.NameLength && end == DnsConstants.HeaderSize + length,
            "accepted a compressed or unreadable question name");
        Check(info.QType != DnsConstants.TypeOpt, "accepted an OPT question");
    }

    private void CheckUpstreamQuery(ReadOnlySpan<byte> query, in DnsRequestInfo info)
    {
        foreach (bool subnet in (ReadOnlySpan<bool>)[false, true])
        {
            int length = DnsMessageWriter.WriteUpstreamQuery(query, info, _scratch, subnet);
            ReadOnlySpan<byte> upstream = _scratch.AsSpan(0, length);
            Check(length % DnsConstants.QueryPaddingBlock == 0, "the upstream query is not padded to 128 octets (RFC 8467)");
            Check(DnsMessageReader.TryParseQuery(upstream, out DnsRequestInfo again) == DnsParseStatus.Ok, "the upstream query we wrote is not a valid query");
            Check(again.NameLength == info.NameLength && upstream.Slice(DnsConstants.HeaderSize, info.NameLength).SequenceEqual(query.Slice(DnsConstants.HeaderSize, info.NameLength)),
                "the upstream query changed the question name");
            Check(again.QType == info.QType && again.QClass == info.QClass, "the upstream query changed the question type or class");
            Check(again.HasOpt && again.DnssecOk == info.DnssecOk && again.EdnsVersion == 0, "the upstream query's OPT lost the DO bit");
            Check((again.Flags & ~(DnsConstants.FlagRd | DnsConstants.FlagCd | DnsConstants.FlagAd)) == 0, "the upstream query carries flags beyond RD/CD/AD");

            // The option list: the client's end-to-end options in order, then keepalive, then padding.
            ReadOnlySpan<byte> options = upstream.Slice(again.OptRdataOffset, again.OptRdataLength);
            int at = 0;
            if (info.HasOpt)
            {
                ReadOnlySpan<byte> client = query.Slice(info.OptRdataOffset, info.OptRdataLength);
                for (int c = 0; c + 4 <= client.Length;)
                {
                    ushort code = BinaryPrimitives.ReadUInt16BigEndian(client[c..]);
                    int optionLength = 4 + BinaryPrimitives.ReadUInt16BigEndian(client[(c + 2)..]);
                    bool perHop = code is DnsConstants.OptionCookie or DnsConstants.OptionTcpKeepalive or DnsConstants.OptionPadding;
                    if (!perHop && (subnet || code != DnsConstants.OptionClientSubnet))
                    {
                        Check(options[at..].StartsWith(client.Slice(c, optionLength)), $"client option {code} was not forwarded as sent");
                        at += optionLength;
                    }

                    c += optionLength;
                }
            }

            Check(options[at..].StartsWith((ReadOnlySpan<byte>)[0, 11, 0, 0]), "the upstream query has no empty keepalive option (RFC 7828 §3.2.1)");
            at += 4;
            Check(options.Length - at >= 4 && BinaryPrimitives.ReadUInt16BigEndian(options[at..]) == DnsConstants.OptionPadding &&
                BinaryPrimitives.ReadUInt16BigEndian(options[(at + 2)..]) == options.Length - at - 4, "the upstream query does not end with its padding option");
        }
    }

    private void CheckErrorAnswer(ReadOnlySpan<byte> query, in DnsRequestInfo info, ReadOnlySpan<byte> answer, int rcode, bool echoed)
    {
        ReadOnlySpan<byte> name = query.Slice(DnsConstants.HeaderSize, info.NameLength);
        bool readable = DnsMessageReader.TryScanResponse(answer, name, info.QType, _ttls, out DnsResponseInfo response);
        Check(readable == echoed, "an error answer that echoes the question is not a readable response");
        Check(BinaryPrimitives.ReadUInt16BigEndian(answer) == info.Id, "an error answer does not carry the query id");
        Check(response.Rcode == (rcode & DnsConstants.RcodeMask) && response.AnswerCount == 0 && response.Length == answer.Length, "an error answer carries the wrong rcode or records");
        Check((response.OptStart >= 0) == info.HasOpt, "an error answer has an OPT exactly when the query had one (RFC 6891 §7)");
        Check(!info.HasOpt || response.ExtendedRcode == rcode >> 4, "the extended rcode's upper bits are not in the OPT (RFC 6891 §6.1.3)");
    }

    private void RunResponse(ReadOnlySpan<byte> message)
    {
        // The resolver asks "does this answer my question?": take the question the message itself carries.
        ushort qtype = 0;
        int nameLength = 0;
        if (DnsName.TryExpand(message, DnsConstants.HeaderSize, Span<byte>.Empty, out int expanded, out int end) &&
            end == DnsConstants.HeaderSize + expanded && end + 2 <= message.Length)
        {
            nameLength = expanded;
            qtype = BinaryPrimitives.ReadUInt16BigEndian(message[end..]);
        }

        ReadOnlySpan<byte> name = message.Slice(DnsConstants.HeaderSize, Math.Min(nameLength, message.Length - DnsConstants.HeaderSize));
        if (!DnsMessageReader.TryScanResponse(message, name, qtype, _ttls, out DnsResponseInfo response))
        {
            return;
        }

        Check(nameLength > 0, "accepted a response whose question name is unreadable");
        int records = BinaryPrimitives.ReadUInt16BigEndian(message[6..]) + BinaryPrimitives.ReadUInt16BigEndian(message[8..]) + BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        Check(response.Length <= message.Length && response.Length >= DnsConstants.HeaderSize + nameLength + 4, "response length outside the message");
        Check(response.TtlCount + (response.OptStart >= 0 ? 1 : 0) == records, "TTL fields and OPT do not add up to the record counts");
        Check(response.OptStart < 0 || (response.OptStart < response.OptEnd && response.OptEnd <= response.Length), "OPT record outside the message");
        int kept = Math.Min(response.TtlCount, _ttls.Length);
        for (int i = 0; i < kept; i++)
        {
            Check(_ttls[i] >= DnsConstants.HeaderSize && _ttls[i] + 4 <= response.Length, "a TTL offset outside the message");
        }

        // Strip the OPT in place (a copy), then rescan: the same answer without the OPT.
        Span<byte> body = _scratch.AsSpan(0, message.Length + 64);
        message.CopyTo(body);
        int bodyLength = DnsMessageWriter.StripOpt(body, response);
        Check(DnsMessageReader.TryScanResponse(body[..bodyLength], name, qtype, _ttlsAgain, out DnsResponseInfo stripped), "the response without its OPT is unreadable");
        Check(stripped.OptStart < 0 && stripped.Length == bodyLength && stripped.TtlCount == response.TtlCount, "stripping the OPT changed the records");
        Check(stripped.Rcode == response.Rcode && stripped.CacheTtl == response.CacheTtl && stripped.IsNegative == response.IsNegative, "stripping the OPT changed the rcode or cache TTL");

        // The client's answer: its own question spelling, our OPT when it sent one, TTLs aged, TC when over its limit.
        bool clientOpt = (message[3] & 0x40) != 0;
        foreach (int limit in (ReadOnlySpan<int>)[ushort.MaxValue, DnsConstants.ClassicUdpSize])
        {
            Span<byte> client = _second.AsSpan(0, bodyLength + DnsMessageWriter.OptSize);
            body[..bodyLength].CopyTo(client);
            var info = new DnsRequestInfo
            {
                Id = 0x5A5A,
                NameLength = nameLength,
                QType = qtype,
                QuestionEnd = DnsConstants.HeaderSize + nameLength + 4,
                HasOpt = clientOpt,
                DnssecOk = clientOpt,
            };
            ReadOnlySpan<byte> query = message[..info.QuestionEnd];
            int length = DnsMessageWriter.FinishAnswer(client, bodyLength, query, info, _ttlsAgain.AsSpan(0, Math.Min(stripped.TtlCount, _ttlsAgain.Length)), 30, response.ExtendedRcode, limit);
            Check(length <= client.Length, "the finished answer overran its buffer");
            Check(DnsMessageReader.TryScanResponse(client[..length], name, qtype, _ttls, out DnsResponseInfo finished), "the finished answer is unreadable");
            Check(BinaryPrimitives.ReadUInt16BigEndian(client) == info.Id && finished.Rcode == response.Rcode, "the finished answer lost the client id or rcode");
            Check((finished.OptStart >= 0) == clientOpt, "the finished answer has an OPT exactly when the client sent one");
            if (bodyLength + (clientOpt ? DnsMessageWriter.OptSize : 0) <= limit)
            {
                Check(finished.TtlCount == stripped.TtlCount && finished.AnswerCount == stripped.AnswerCount, "the finished answer lost records");
                for (int i = 0; i < Math.Min(stripped.TtlCount, _ttlsAgain.Length); i++)
                {
                    uint before = BinaryPrimitives.ReadUInt32BigEndian(body[_ttlsAgain[i]..]);
                    uint after = BinaryPrimitives.ReadUInt32BigEndian(client[_ttlsAgain[i]..]);
                    Check(after == (before > 30 ? before - 30 : 0), "a TTL was not aged by the elapsed time");
                }
            }
            else
            {
                Check((client[2] & 0x02) != 0 && finished.TtlCount == 0 && length <= limit, "an answer over the limit is not truncated to the question (RFC 2181 §9)");
            }
        }
    }
}
