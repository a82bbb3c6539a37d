using System.Buffers.Binary;
using Gateway.Fuzz;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.Differential;

/// <summary>
/// Our DNS wire reader and writer (plugins/dns-dot/Wire) judged by dnspython and ARSoft.Tools.Net on the same bytes:
/// real captures (kdig/unbound, the fuzz seeds), RFC examples, random well-formed messages and seeded mutations.
/// Both accept → the fields agree; one accepts → the difference is one of the deliberate ones listed in
/// docs/fuzzing.md ("Differential tests"), each with its RFC reason, or the test fails.
/// </summary>
public sealed class DnsDifferentialTests
{
    private static readonly Lazy<List<Case>> Cases = new(BuildCases);

    [Fact]
    public void TryParseQuery_AgainstDnspythonAndArsoft_SameVerdictAndQuestion()
    {
        var failures = new List<string>();
        int compared = 0;
        foreach (Case c in Cases.Value.Where(c => c.Message.Length >= 12 && (c.Message[2] & 0x80) == 0))
        {
            DnsParseStatus status = DnsMessageReader.TryParseQuery(c.Message, out DnsRequestInfo info);
            ReferenceDnsMessage py = c.Python;
            string? deliberate = DeliberateQueryDifference(c, status);
            if (deliberate is not null)
            {
                continue;
            }

            if (!py.Ok)
            {
                Expect(failures, c, status is DnsParseStatus.FormErr or DnsParseStatus.NotImp, $"we say {status}, dnspython refuses it ({py.Error})");
                continue;
            }

            compared++;
            Expect(failures, c, status == DnsParseStatus.Ok, $"we say {status}, dnspython reads a standard query");
            if (status != DnsParseStatus.Ok)
            {
                continue;
            }

            (byte[]? name, int type, int @class) = py.Questions[0];
            Expect(failures, c, info.Id == py.Id && info.Flags == py.Flags, "id or flags differ");
            Expect(failures, c, c.Message.AsSpan(12, info.NameLength).SequenceEqual(name) && info.QType == type && info.QClass == @class, "the question differs");
            Expect(failures, c, info.HasOpt == (py.Edns >= 0) && (!info.HasOpt || (info.UdpSize == py.Payload && info.DnssecOk == py.DnssecOk)), "EDNS (payload, DO) differs");
            Expect(failures, c, info.HasClientSubnet == py.Options.Any(o => o.Code == DnsConstants.OptionClientSubnet), "client subnet presence differs");
            ReferenceDnsMessage ar = c.Arsoft;
            Expect(failures, c, ar.Ok && ar.Id == info.Id && ar.Questions.Count == 1 && ar.Questions[0].Type == info.QType && ar.Edns == py.Edns &&
                ar.Options.Select(o => o.Code).SequenceEqual(py.Options.Select(o => o.Code)), $"ARSoft reads it otherwise ({ar.Error})");
        }

        Assert.True(compared > 200, $"only {compared} queries were compared field by field");
        Assert.True(failures.Count == 0, Report(failures));
    }

    [Fact]
    public void TryScanResponse_AgainstDnspythonAndArsoft_SameRcodeRecordsAndTtls()
    {
        var failures = new List<string>();
        int compared = 0;
        int[] ttls = new int[4096];
        foreach (Case c in Cases.Value.Where(c => c.Message.Length >= 12 && (c.Message[2] & 0x80) != 0))
        {
            bool ok = Scan(c.Message, ttls, out DnsResponseInfo info);
            ReferenceDnsMessage py = c.Python;
            if (DeliberateResponseDifference(c, ok) is not null)
            {
                continue;
            }

            if (!py.Ok)
            {
                Expect(failures, c, !ok, $"we accept a response dnspython refuses ({py.Error})");
                continue;
            }

            Expect(failures, c, ok, "we refuse a response dnspython reads");
            if (!ok)
            {
                continue;
            }

            compared++;
            var records = py.Records.Where(r => r.Type != DnsConstants.TypeOpt).ToList();
            Expect(failures, c, info.Rcode == (py.Rcode & 0xF) && (info.OptStart < 0 || ((info.ExtendedRcode << 4) | info.Rcode) == py.Rcode), $"rcode {info.Rcode}/{info.ExtendedRcode}, dnspython {py.Rcode}");
            Expect(failures, c, info.Truncated == ((py.Flags & 0x200) != 0), "TC differs");
            Expect(failures, c, info.AnswerCount == py.Records.Count(r => r.Section == 0) && info.TtlCount == records.Count, "record counts differ");
            Expect(failures, c, (info.OptStart >= 0) == (py.Edns >= 0), "OPT presence differs");
            for (int i = 0; i < Math.Min(info.TtlCount, records.Count); i++)
            {
                // RFC 2181 §8: a TTL with the top bit set is 0 (dnspython reads it so; we forward the bytes, our cache uses 0).
                uint ttl = BinaryPrimitives.ReadUInt32BigEndian(c.Message.AsSpan(ttls[i]));
                Expect(failures, c, (ttl > int.MaxValue ? 0 : ttl) == records[i].Ttl, $"TTL of record {i} differs");
            }

            int keepalive = py.Options.Where(o => o.Code == DnsConstants.OptionTcpKeepalive && o.Data.Length == 2).Select(o => (int)BinaryPrimitives.ReadUInt16BigEndian(o.Data)).DefaultIfEmpty(-1).First();
            Expect(failures, c, info.KeepaliveTimeout == keepalive, "keepalive timeout differs");
            uint minimum = records.Where(r => r.Section == 0).Select(r => (uint)r.Ttl).DefaultIfEmpty(uint.MaxValue).Min();
            Expect(failures, c, info.AnswerCount == 0 || info.Rcode != 0 || info.CacheTtl == minimum, "cache TTL is not the smallest answer TTL");
            ReferenceDnsMessage ar = c.Arsoft;
            Expect(failures, c, ar.Ok && ar.Rcode == py.Rcode && ar.Edns == py.Edns &&
                ar.Records.Where(r => r.Type != DnsConstants.TypeOpt).Select(r => (r.Section, r.Type, r.Ttl)).SequenceEqual(records.Select(r => (r.Section, r.Type, r.Ttl))),
                $"ARSoft reads it otherwise ({ar.Error})");
        }

        Assert.True(compared > 200, $"only {compared} responses were compared field by field");
        Assert.True(failures.Count == 0, Report(failures));
    }

    [Fact]
    public void StripOptAndFinishAnswer_ReadByDnspython_SameRecordsForTheClient()
    {
        // What the client gets: the upstream answer without its OPT, our OPT, its id and its spelling of the name.
        var originals = new List<(Case Case, ReferenceDnsMessage Reference)>();
        var outputs = new List<byte[]>();
        int[] ttls = new int[4096];
        foreach (Case c in Cases.Value.Where(c => c.Message.Length >= 12 && (c.Message[2] & 0x80) != 0 && c.Python.Ok))
        {
            if (!Scan(c.Message, ttls, out DnsResponseInfo response))
            {
                continue;
            }

            byte[] body = (byte[])c.Message.Clone();
            int bodyLength = DnsMessageWriter.StripOpt(body, response);
            DnsName.TryExpand(c.Message, 12, Span<byte>.Empty, out int nameLength, out _);
            byte[] query = c.Message[..(12 + nameLength + 4)];
            FlipCase(query.AsSpan(12, nameLength));
            var info = new DnsRequestInfo { Id = 0xBEEF, NameLength = nameLength, QType = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(12 + nameLength)), QuestionEnd = query.Length, HasOpt = true, DnssecOk = true };
            byte[] answer = new byte[bodyLength + DnsMessageWriter.OptSize];
            body.AsSpan(0, bodyLength).CopyTo(answer);
            int length = DnsMessageWriter.FinishAnswer(answer, bodyLength, query, info, ReadOnlySpan<int>.Empty, 0, response.ExtendedRcode, ushort.MaxValue);
            originals.Add((c, c.Python));
            outputs.Add(answer[..length]);
        }

        List<ReferenceDnsMessage> read = DnsReferences.Dnspython(outputs);
        var failures = new List<string>();
        for (int i = 0; i < outputs.Count; i++)
        {
            (Case c, ReferenceDnsMessage before) = originals[i];
            ReferenceDnsMessage after = read[i];
            Expect(failures, c, after.Ok, $"the client's answer does not parse: {after.Error}");
            if (!after.Ok)
            {
                continue;
            }

            var expected = before.Records.Where(r => r.Type != DnsConstants.TypeOpt).ToList();
            var got = after.Records.Where(r => r.Type != DnsConstants.TypeOpt).ToList();
            Expect(failures, c, after.Id == 0xBEEF && after.Edns == 0 && after.DnssecOk && (after.Rcode == before.Rcode || before.Edns < 0), "id, OPT or rcode of the client's answer");
            Expect(failures, c, after.Questions.Count == 1 && after.Questions[0].Name!.AsSpan().SequenceEqual(outputs[i].AsSpan(12, after.Questions[0].Name!.Length)), "the question is not in the client's spelling");
            Expect(failures, c, got.Count == expected.Count && got.Zip(expected).All(p => p.First.Type == p.Second.Type && p.First.Ttl == p.Second.Ttl &&
                DnsName.EqualsIgnoreCase(p.First.Name, p.Second.Name) && p.First.Address.AsSpan().SequenceEqual(p.Second.Address)),
                "the client's answer has other records, names or addresses than the upstream's (compression pointers moved?)");
        }

        Assert.True(outputs.Count > 200, $"only {outputs.Count} answers were finished");
        Assert.True(failures.Count == 0, Report(failures));
    }

    [Fact]
    public void Writers_OutputReadByDnspython_AsTheResolverMeansIt()
    {
        var queries = new List<(Case Case, DnsRequestInfo Info)>();
        var outputs = new List<byte[]>();
        foreach (Case c in Cases.Value.Where(c => c.Message.Length >= 12 && (c.Message[2] & 0x80) == 0))
        {
            if (DnsMessageReader.TryParseQuery(c.Message, out DnsRequestInfo info) != DnsParseStatus.Ok)
            {
                continue;
            }

            byte[] buffer = new byte[c.Message.Length + 512];
            outputs.Add(buffer[..DnsMessageWriter.WriteUpstreamQuery(c.Message, info, buffer, forwardClientSubnet: false)]);
            outputs.Add(buffer[..DnsMessageWriter.WriteRcode(c.Message, info, echoQuestion: true, DnsConstants.RcodeBadVers, buffer)]);
            outputs.Add(buffer[..DnsMessageWriter.WriteAddressAnswer(c.Message, info, [NetAddress.Parse("192.0.2.1"), NetAddress.Parse("2001:db8::1")], 60, buffer)]);
            queries.Add((c, info));
        }

        List<ReferenceDnsMessage> read = DnsReferences.Dnspython(outputs);
        var failures = new List<string>();
        for (int i = 0; i < queries.Count; i++)
        {
            (Case c, DnsRequestInfo info) = queries[i];
            byte[] name = c.Message.AsSpan(12, info.NameLength).ToArray();
            ReferenceDnsMessage upstream = read[3 * i], rcode = read[(3 * i) + 1], answer = read[(3 * i) + 2];
            Expect(failures, c, upstream.Ok && upstream.Questions.Count == 1 && upstream.Questions[0].Name!.SequenceEqual(name) && upstream.Edns == 0 &&
                upstream.DnssecOk == info.DnssecOk && outputs[3 * i].Length % 128 == 0 &&
                upstream.Options.Select(o => o.Code).TakeLast(2).SequenceEqual([DnsConstants.OptionTcpKeepalive, DnsConstants.OptionPadding]) &&
                !upstream.Options.Any(o => o.Code is DnsConstants.OptionCookie or DnsConstants.OptionClientSubnet), $"upstream query: {upstream.Error}");
            Expect(failures, c, rcode.Ok && rcode.Id == info.Id && (rcode.Flags & 0x8000) != 0 && rcode.Questions.Count == 1 &&
                (info.HasOpt ? rcode.Rcode == DnsConstants.RcodeBadVers : rcode.Rcode == 0), $"BADVERS answer: {rcode.Error} rcode {rcode.Rcode}");
            bool address = info.QClass == 1 && info.QType is 1 or 28;
            Expect(failures, c, answer.Ok && answer.Rcode == 0 && answer.Records.Count(r => r.Section == 0) == (address ? 1 : 0) &&
                answer.Records.Where(r => r.Section == 0).All(r => r.Name!.AsSpan().SequenceEqual(name) && r.Ttl == 60 &&
                    r.Address.AsSpan().SequenceEqual(info.QType == 1 ? [192, 0, 2, 1] : NetAddress.Parse("2001:db8::1").ToIPAddress().GetAddressBytes())),
                $"local answer: {answer.Error}");
        }

        Assert.True(queries.Count > 100, $"only {queries.Count} queries were written");
        Assert.True(failures.Count == 0, Report(failures));
    }

    /// <summary>
    /// The deliberate differences on queries (docs/fuzzing.md): the name of the rule that explains why we answer
    /// otherwise than a general-purpose parser would, or null when we must agree.
    /// </summary>
    private static string? DeliberateQueryDifference(Case c, DnsParseStatus status)
    {
        ReferenceDnsMessage py = c.Python;
        byte[] m = c.Message;
        int opcode = (m[2] >> 3) & 0xF;
        if (!py.Ok && py.Error.StartsWith("TrailingJunk", StringComparison.Ordinal))
        {
            return "trailing bytes are ignored: the query is rewritten, never forwarded as received";
        }

        if (!py.Ok && c.PythonOpaque is { Ok: true } && status == DnsParseStatus.Ok)
        {
            return "RDATA is opaque: records are framed by RDLENGTH (RFC 1035 §3.2.1, RFC 3597 §4)";
        }

        if (py.Ok && opcode != 0 && status == DnsParseStatus.NotImp)
        {
            return "only QUERY is served: NOTIMP (RFC 1035 §4.1.1)";
        }

        if (py.Ok && py.Questions.Count != 1 && status == DnsParseStatus.FormErr)
        {
            return "exactly one question (RFC 9619)";
        }

        if (py.Ok && status == DnsParseStatus.FormErr && PointerNotPrior(m))
        {
            return "a compression pointer must refer to a prior name: not into the header, not running on past itself (RFC 1035 §4.1.4, RFC 9267 §2)";
        }

        if (py.Ok && status == DnsParseStatus.FormErr && (m[12] & 0xC0) != 0)
        {
            return "a compressed question has nothing to point to: FORMERR";
        }

        if (py.Ok && status == DnsParseStatus.FormErr && py.Questions.Count == 1 && py.Questions[0].Type == DnsConstants.TypeOpt)
        {
            return "OPT is a pseudo-record of the additional section, never a question (RFC 6891 §6.1.1)";
        }

        if (py.Ok && status == DnsParseStatus.BadVersion && py.Edns > 0)
        {
            return "EDNS versions above 0 get BADVERS (RFC 6891 §6.1.3)";
        }

        return null;
    }

    /// <summary>The deliberate differences on upstream responses (docs/fuzzing.md), or null.</summary>
    private static string? DeliberateResponseDifference(Case c, bool ok)
    {
        ReferenceDnsMessage py = c.Python;
        byte[] m = c.Message;
        if (!py.Ok && ok && py.Error.StartsWith("TrailingJunk", StringComparison.Ordinal))
        {
            return "trailing bytes are dropped, not forwarded (DnsResponseInfo.Length)";
        }

        if (!py.Ok && ok && c.PythonOpaque is { Ok: true })
        {
            return "RDATA is opaque: the client's resolver judges it, as dnsdist passes it through (RFC 3597 §4)";
        }

        if (py.Ok && !ok && (py.Questions.Count != 1 || (m[12] & 0xC0) != 0))
        {
            return "an answer must echo our one uncompressed question (RFC 1035 §7.3: match it to the query)";
        }

        if (py.Ok && !ok && PointerNotPrior(m))
        {
            return "a compression pointer must refer to a prior name: not into the header, not running on past itself (RFC 1035 §4.1.4, RFC 9267 §2)";
        }

        if (py.Ok && !ok && py.Records.Where(r => r.Type == DnsConstants.TypeOpt).Select(r => r.Section).Any(s => s != 2))
        {
            return "OPT only in the additional section (RFC 6891 §6.1.1)";
        }

        return null;
    }

    /// <summary>
    /// True when a name of the message uses a pointer that is no prior occurrence of a name (RFC 1035 §4.1.4): into the
    /// header, or to bytes that run on to or past the pointer itself. Names are walked leniently, record by record.
    /// </summary>
    private static bool PointerNotPrior(byte[] m)
    {
        if (m.Length < 12)
        {
            return false;
        }

        int position = 12;
        int names = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(4));
        int records = BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(6)) + BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8)) + BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(10));
        for (int i = 0; i < names + records; i++)
        {
            int pointer = -1, at = position;
            for (int hops = 0; hops < 128 && at < m.Length; hops++)
            {
                byte label = m[at];
                if ((label & 0xC0) == 0xC0 && at + 1 < m.Length)
                {
                    int target = ((label & 0x3F) << 8) | m[at + 1];
                    if (pointer < 0)
                    {
                        pointer = at;
                        position = at + 2;
                    }

                    if (target < 12 || target >= pointer)
                    {
                        return true;
                    }

                    at = target;
                    continue;
                }

                if (pointer >= 0 && at + 1 + (label & 0x3F) > pointer)
                {
                    return true;
                }

                at += 1 + (label & 0x3F);
                if (label == 0)
                {
                    break;
                }
            }

            if (pointer < 0)
            {
                position = at;
            }

            position += i < names ? 4 : 10 + (position + 10 <= m.Length ? BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(position + 8)) : 0);
            if (position > m.Length)
            {
                return false;
            }
        }

        return false;
    }

    private static bool Scan(byte[] message, int[] ttls, out DnsResponseInfo info)
    {
        info = default;
        if (!DnsName.TryExpand(message, 12, Span<byte>.Empty, out int nameLength, out int end) || end != 12 + nameLength || end + 2 > message.Length)
        {
            return false;
        }

        return DnsMessageReader.TryScanResponse(message, message.AsSpan(12, nameLength), BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(end)), ttls, out info);
    }

    private static void FlipCase(Span<byte> name)
    {
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsAsciiLetter((char)name[i]))
            {
                name[i] ^= 0x20;
            }
        }
    }

    private static void Expect(List<string> failures, Case c, bool condition, string what)
    {
        if (!condition)
        {
            failures.Add($"{c.Source}: {what}: {Convert.ToHexString(c.Message)}");
        }
    }

    private static string Report(List<string> failures) =>
        $"{failures.Count} disagreements:\n" + string.Join('\n', failures.Take(15));

    private static List<Case> BuildCases()
    {
        var messages = new List<(string Source, byte[] Message)>();
        foreach (string file in FuzzCorpus.Files("Corpus", "dns"))
        {
            messages.Add(("capture " + Path.GetFileName(file), File.ReadAllBytes(file)));
        }

        foreach ((string name, byte[] message) in RfcExamples())
        {
            messages.Add((name, message));
        }

        var generator = new DnsMessageGenerator(20261207);
        for (int i = 0; i < 300; i++)
        {
            messages.Add(($"random {i}", generator.Next(response: i % 2 == 1)));
        }

        int wellFormed = messages.Count;
        for (int i = 0; i < 1500; i++)
        {
            (string source, byte[] message) = messages[i % wellFormed];
            messages.Add(($"mutation {i} of {source}", generator.Mutate(message)));
        }

        // Each message and its "opaque RDATA" twin (record types made unknown) go to dnspython in one batch.
        var batch = new List<byte[]>();
        foreach ((_, byte[] message) in messages)
        {
            batch.Add(message);
            batch.Add(OpaqueTwin(message) ?? []);
        }

        Assert.True(File.Exists("/usr/bin/python3"), "dnspython is needed: apt-get install python3-dnspython (scripts/test.sh installs it)");
        List<ReferenceDnsMessage> python = DnsReferences.Dnspython(batch);
        Assert.True(python.Take(20).Any(p => p.Ok), "dnspython read none of the captures: is python3-dnspython installed? " + python[0].Error);
        var cases = new List<Case>();
        for (int i = 0; i < messages.Count; i++)
        {
            cases.Add(new Case(messages[i].Source, messages[i].Message, python[2 * i], DnsReferences.Arsoft(messages[i].Message), python[(2 * i) + 1]));
        }

        return cases;
    }

    /// <summary>The message with every record's type set to 65280 (private use: opaque RDATA), or null when its records do not frame.</summary>
    private static byte[]? OpaqueTwin(byte[] message)
    {
        if (message.Length < 12)
        {
            return null;
        }

        byte[] twin = (byte[])message.Clone();
        int position = 12;
        int questions = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(4));
        int records = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(6)) + BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(8)) + BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(10));
        for (int q = 0; q < questions; q++)
        {
            if (!DnsName.TrySkip(message, position, out position) || position + 4 > message.Length)
            {
                return null;
            }

            position += 4;
        }

        for (int r = 0; r < records; r++)
        {
            if (!DnsName.TrySkip(message, position, out position) || position + 10 > message.Length)
            {
                return null;
            }

            // The OPT too: an upstream's OPT is per hop, stripped, its options unused but keepalive (RFC 6891 §6.1.1).
            BinaryPrimitives.WriteUInt16BigEndian(twin.AsSpan(position), 0xFF00);

            position += 10 + BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(position + 8));
            if (position > message.Length)
            {
                return null;
            }
        }

        return twin;
    }

    /// <summary>Examples from the RFCs, byte for byte.</summary>
    private static IEnumerable<(string, byte[])> RfcExamples()
    {
        // RFC 1035 §4.1.4: F.ISI.ARPA, FOO.F.ISI.ARPA (pointer to F.ISI.ARPA) and ARPA (pointer into it) as names.
        byte[] question = [1, (byte)'F', 3, (byte)'I', (byte)'S', (byte)'I', 4, (byte)'A', (byte)'R', (byte)'P', (byte)'A', 0];
        byte[] header = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        byte[] rfc1035 =
        [
            .. header, .. question, 0, 1, 0, 1,
            0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 10, 0, 0, 1,
            3, (byte)'F', (byte)'O', (byte)'O', 0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 10, 0, 0, 2,
            0xC0, 18, 0, 2, 0, 1, 0, 0, 0x0E, 0x10, 0, 2, 0xC0, 12,
        ];
        yield return ("RFC 1035 §4.1.4 compression", rfc1035);

        // RFC 7871 §6: a query with ECS 198.51.100.0/24 (family 1, source 24, scope 0).
        byte[] query = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 3, (byte)'w', (byte)'w', (byte)'w', 7, .. "example"u8, 3, .. "com"u8, 0, 0, 1, 0, 1];
        yield return ("RFC 7871 ECS query", [.. query, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100]);

        // RFC 7828 §3.2.1: an empty keepalive option in a query; RFC 8467 §4.1: padding to 128 octets.
        int padding = 128 - (query.Length + 11 + 4 + 4);
        yield return ("RFC 7828/8467 keepalive and padding", [.. query, 0, 0, 41, 0x04, 0xD0, 0, 0, 0x80, 0, 0, (byte)(8 + padding), 0, 11, 0, 0, 0, 12, 0, (byte)padding, .. new byte[padding]]);

        // RFC 6891 §6.1.3: EDNS version 1 (BADVERS expected) and a BADVERS answer (extended rcode 1, rcode 0).
        yield return ("RFC 6891 version 1 query", [.. query[..11], 1, .. query[12..], 0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0]);
        byte[] badvers = [.. query];
        badvers[2] = 0x81;
        badvers[3] = 0x80;
        yield return ("RFC 6891 BADVERS answer", [.. badvers[..11], 1, .. badvers[12..], 0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0]);

        // RFC 2308 §5: NXDOMAIN with the SOA whose MINIMUM (300) caps the negative TTL (3600).
        byte[] nx = [0x55, 0x55, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0, 3, .. "www"u8, 7, .. "example"u8, 3, .. "com"u8, 0, 0, 1, 0, 1];
        byte[] soa = [3, .. "ns1"u8, 0xC0, 16, 10, .. "hostmaster"u8, 0xC0, 16, 0, 0, 0, 1, 0, 0, 0x1C, 0x20, 0, 0, 0x0E, 0x10, 0, 0x12, 0x75, 0, 0, 0, 1, 0x2C];
        yield return ("RFC 2308 negative answer", [.. nx, 0xC0, 16, 0, 6, 0, 1, 0, 0, 0x0E, 0x10, 0, (byte)soa.Length, .. soa]);
    }

    private sealed record Case(string Source, byte[] Message, ReferenceDnsMessage Python, ReferenceDnsMessage Arsoft, ReferenceDnsMessage? PythonOpaque);
}
