using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ARSoft.Tools.Net.Dns;

namespace Gateway.Tests.Differential;

/// <summary>Runs the reference DNS parsers: dnspython in one python3 process per batch, ARSoft.Tools.Net in process.</summary>
internal static class DnsReferences
{
    /// <summary>Debian's python3 (python3-dnspython lives in its dist-packages), not a python3 earlier on PATH.</summary>
    private const string Python = "/usr/bin/python3";

    /// <summary>dnspython's reading of every message, in order.</summary>
    public static List<ReferenceDnsMessage> Dnspython(IReadOnlyList<byte[]> messages)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "Differential", "dnspython_reference.py");
        var input = new StringBuilder();
        foreach (byte[] message in messages)
        {
            input.Append(Convert.ToHexString(message)).Append('\n');
        }

        var start = new ProcessStartInfo(Python, script) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(input.ToString());
        process.StandardInput.Close();
        process.WaitForExit();
        string[] lines = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == messages.Count, $"dnspython answered {lines.Length} of {messages.Count}: {errors.Result}");
        return lines.Select(FromJson).ToList();
    }

    /// <summary>ARSoft.Tools.Net's reading of one message.</summary>
    public static ReferenceDnsMessage Arsoft(byte[] message)
    {
        DnsMessage m;
        try
        {
            m = DnsMessage.Parse(new ArraySegment<byte>(message));
        }
        catch (Exception ex)
        {
            return ReferenceDnsMessage.Refused($"{ex.GetType().Name}: {ex.Message}");
        }

        var records = new List<(int, byte[]?, int, int, long, byte[])>();
        int section = 0;
        foreach (List<DnsRecordBase> list in new[] { m.AnswerRecords, m.AuthorityRecords, m.AdditionalRecords })
        {
            foreach (DnsRecordBase r in list)
            {
                byte[] address = r is ARecord a ? a.Address.GetAddressBytes() : r is AaaaRecord aaaa ? aaaa.Address.GetAddressBytes() : [];
                // ARSoft keeps a TTL with the top bit set as a negative number; RFC 2181 §8 (and dnspython) read it as 0.
                records.Add((section, null, (int)r.RecordType, (int)r.RecordClass, r.RecordType == RecordType.Opt ? r.TimeToLive : Math.Max(0, r.TimeToLive), address));
            }

            section++;
        }

        OptRecord? opt = m.IsEDnsEnabled ? m.EDnsOptions : null;
        return new ReferenceDnsMessage(true, "")
        {
            Id = m.TransactionID,
            Flags = (m.IsQuery ? 0 : 0x8000) | ((int)m.OperationCode << 11) | (m.IsAuthoritiveAnswer ? 0x400 : 0) | (m.IsTruncated ? 0x200 : 0) |
                (m.IsRecursionDesired ? 0x100 : 0) | (m.IsRecursionAllowed ? 0x80 : 0) | (m.IsAuthenticData ? 0x20 : 0) | (m.IsCheckingDisabled ? 0x10 : 0),
            Opcode = (int)m.OperationCode,
            Rcode = (int)m.ReturnCode,
            Questions = m.Questions.Select(q => ((byte[]?)null, (int)q.RecordType, (int)q.RecordClass)).ToList(),
            Records = records,
            Edns = opt is null ? -1 : opt.Version,
            Payload = opt?.UdpPayloadSize ?? 0,
            DnssecOk = opt?.IsDnsSecOk ?? false,
            Options = opt is null ? [] : opt.Options.Select(o => ((int)o.Type, Array.Empty<byte>())).ToList(),
        };
    }

    private static ReferenceDnsMessage FromJson(string line)
    {
        using JsonDocument doc = JsonDocument.Parse(line);
        JsonElement e = doc.RootElement;
        if (!e.GetProperty("ok").GetBoolean())
        {
            return ReferenceDnsMessage.Refused(e.GetProperty("error").GetString()!);
        }

        return new ReferenceDnsMessage(true, "")
        {
            Id = e.GetProperty("id").GetInt32(),
            Flags = e.GetProperty("flags").GetInt32(),
            Opcode = e.GetProperty("opcode").GetInt32(),
            Rcode = e.GetProperty("rcode").GetInt32(),
            Questions = e.GetProperty("questions").EnumerateArray()
                .Select(q => ((byte[]?)Convert.FromHexString(q[0].GetString()!), q[1].GetInt32(), q[2].GetInt32())).ToList(),
            Records = e.GetProperty("records").EnumerateArray()
                .Select(r => (r[0].GetInt32(), (byte[]?)Convert.FromHexString(r[1].GetString()!), r[2].GetInt32(), r[3].GetInt32(), r[4].GetInt64(), Convert.FromHexString(r[5].GetString()!))).ToList(),
            Edns = e.GetProperty("edns").GetInt32(),
            Payload = e.GetProperty("payload").GetInt32(),
            DnssecOk = e.GetProperty("do").GetBoolean(),
            Options = e.GetProperty("options").EnumerateArray().Select(o => (o[0].GetInt32(), Convert.FromHexString(o[1].GetString()!))).ToList(),
        };
    }
}
