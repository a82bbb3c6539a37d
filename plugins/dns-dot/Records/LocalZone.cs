using System.Text;
using Gateway.Plugins.DnsDot.Filtering;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Records;

/// <summary>
/// The <c>records:</c> of dns-dot, answered authoritatively (AA) like unbound's <c>local-data</c> in a
/// transparent local zone: a local name gets its records, or NODATA for a type it does not have; a name with no
/// local data (a sibling, a subdomain) is resolved upstream as usual. CNAMEs are followed within local data
/// (RFC 1034 §3.6.2 chains in one answer); a chain that leaves local data ends with the alias it reached, which
/// the resolver then resolves upstream. Wildcards (<c>*.dev.home.test</c>) answer every name below their parent
/// that has no record of its own (RFC 4592). Local A/AAAA records get PTRs in in-addr.arpa / ip6.arpa unless a PTR
/// for that address is configured. Built once per configuration; read-only afterwards.
/// </summary>
internal sealed class LocalZone
{
    /// <summary>CNAME hops followed within local data before giving up (a loop, or a very long chain).</summary>
    public const int MaxChain = 8;

    private readonly NameSuffixMap<LocalName> _names;
    private readonly NameSuffixMap<LocalName> _wildcards;

    private LocalZone(Dictionary<string, LocalName> names, Dictionary<string, LocalName> wildcards)
    {
        _names = new NameSuffixMap<LocalName>(names);
        _wildcards = new NameSuffixMap<LocalName>(wildcards);
        Count = names.Count + wildcards.Count;
    }

    /// <summary>Owner names (and wildcards) with local data.</summary>
    public int Count { get; }

    /// <summary>
    /// Builds the zone from <paramref name="records"/> (one entry of <c>records:</c> each). Errors are reported
    /// with the entry's index and the column in its text; returns null when there was any.
    /// </summary>
    public static LocalZone? Build(IReadOnlyList<string> records, Action<int, string> error)
    {
        var byOwner = new Dictionary<(string Owner, bool Wildcard), List<LocalRecord>>();
        bool failed = false;
        for (int i = 0; i < records.Count; i++)
        {
            LocalRecord? record = RecordParser.TryParse(records[i] ?? "", out string? problem, out int column);
            if (record is null)
            {
                error(i, $"column {column} of \"{records[i]}\": {problem}");
                failed = true;
                continue;
            }

            if (!byOwner.TryGetValue((record.Owner, record.IsWildcard), out List<LocalRecord>? list))
            {
                byOwner[(record.Owner, record.IsWildcard)] = list = [];
            }

            bool cnameConflict = record.Type == LocalRecord.TypeCname ? list.Count > 0 : list.Exists(r => r.Type == LocalRecord.TypeCname);
            if (cnameConflict)
            {
                error(i, $"\"{records[i]}\": a name with a CNAME can have no other records (RFC 1034 §3.6.2), and {(record.IsWildcard ? "*." : "")}{record.Owner} already has records");
                failed = true;
                continue;
            }

            list.Add(record);
        }

        if (failed)
        {
            return null;
        }

        AddReversePointers(byOwner);
        Dictionary<string, LocalName> names = NameSuffixMap<LocalName>.CreateDictionary();
        Dictionary<string, LocalName> wildcards = NameSuffixMap<LocalName>.CreateDictionary();
        foreach (((string owner, bool wildcard), List<LocalRecord> list) in byOwner)
        {
            (wildcard ? wildcards : names)[owner] = new LocalName(owner, PresentationName.ToWire(owner), [.. list]);
        }

        return new LocalZone(names, wildcards);
    }

    /// <summary>The local data for <paramref name="name"/> (presentation bytes as rules see them), or null.</summary>
    public LocalName? Find(ReadOnlySpan<byte> name)
    {
        if (_names.TryMatchExact(name, out LocalName exact))
        {
            return exact;
        }

        if (_wildcards.Count == 0)
        {
            return null;
        }

        // A wildcard covers names strictly below its parent: look the parent of the query name up.
        int dot = name.IndexOf((byte)'.');
        return dot > 0 && _wildcards.TryMatch(name[(dot + 1)..], out LocalName wildcard) ? wildcard : null;
    }

    /// <summary>The local data for a name given as a string (CNAME targets).</summary>
    public LocalName? Find(string name)
    {
        Span<byte> bytes = stackalloc byte[name.Length];
        Encoding.ASCII.GetBytes(name, bytes);
        return Find(bytes);
    }

    /// <summary>
    /// Writes the authoritative answer for <paramref name="local"/> (found for the question of
    /// <paramref name="query"/>) into <paramref name="destination"/>. When a CNAME chain leaves local data, returns
    /// the last target (the resolver resolves it upstream and appends that answer); null otherwise.
    /// </summary>
    public string? Answer(ReadOnlySpan<byte> query, in DnsRequestInfo info, LocalName local, int limit, Span<byte> destination, out int length, out int chainEnd)
    {
        var response = new ResponseBuilder(query, info, DnsConstants.RcodeNoError, authoritative: true, destination);
        string? leftLocalData = null;
        if (info.QClass == DnsConstants.ClassIn)
        {
            leftLocalData = Write(ref response, info.QType, local, ReadOnlySpan<byte>.Empty);
        }

        chainEnd = response.Position;
        length = response.Finish(info, leftLocalData is null ? limit : int.MaxValue);
        return leftLocalData;
    }

    /// <summary>Writes the chain into <paramref name="response"/>; returns a CNAME target outside local data, or null.</summary>
    internal string? Write(ref ResponseBuilder response, ushort qtype, LocalName local, ReadOnlySpan<byte> owner)
    {
        LocalName current = local;
        byte[]? currentOwner = null;
        for (int hop = 0; hop <= MaxChain; hop++)
        {
            ReadOnlySpan<byte> at = currentOwner is null ? owner : currentOwner;
            if (current.Cname is { } cname && qtype != LocalRecord.TypeCname)
            {
                response.Answer(at, cname.Type, cname.Ttl, cname.Rdata);
                LocalName? next = Find(cname.Target!);
                if (next is null)
                {
                    return cname.Target;
                }

                current = next;

                // A wildcard target answers with the target's own name as owner.
                currentOwner = cname.Rdata;
                continue;
            }

            foreach (LocalRecord record in current.Records)
            {
                if (record.Type == qtype || qtype == LocalRecord.TypeAny)
                {
                    response.Answer(at, record.Type, record.Ttl, record.Rdata);
                }
            }

            return null;
        }

        return null;
    }

    // RFC 1035 §3.5 / RFC 3596 §2.5: a PTR for each local address, unless one is configured for it.
    private static void AddReversePointers(Dictionary<(string Owner, bool Wildcard), List<LocalRecord>> byOwner)
    {
        var added = new List<LocalRecord>();
        foreach (((string owner, bool wildcard), List<LocalRecord> list) in byOwner)
        {
            if (wildcard)
            {
                continue;
            }

            foreach (LocalRecord record in list)
            {
                if (record.Type is LocalRecord.TypeA or LocalRecord.TypeAaaa)
                {
                    string reverse = ReverseName(record.Rdata);
                    if (!byOwner.ContainsKey((reverse, false)) && !added.Exists(r => r.Owner == reverse))
                    {
                        added.Add(new LocalRecord(reverse, false, LocalRecord.TypePtr, record.Ttl, PresentationName.ToWire(owner), null));
                    }
                }
            }
        }

        foreach (LocalRecord record in added)
        {
            byOwner[(record.Owner, false)] = [record];
        }
    }

    /// <summary>"10.1.168.192.in-addr.arpa" for 192.168.1.10; nibbles under ip6.arpa for IPv6.</summary>
    internal static string ReverseName(ReadOnlySpan<byte> address)
    {
        var text = new StringBuilder();
        if (address.Length == 4)
        {
            for (int i = 3; i >= 0; i--)
            {
                text.Append(address[i]).Append('.');
            }

            return text.Append("in-addr.arpa").ToString();
        }

        for (int i = address.Length - 1; i >= 0; i--)
        {
            text.Append("0123456789abcdef"[address[i] & 0xF]).Append('.').Append("0123456789abcdef"[address[i] >> 4]).Append('.');
        }

        return text.Append("ip6.arpa").ToString();
    }

    /// <summary>The reverse name of an address (tests and tools).</summary>
    internal static string ReverseName(NetAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.WriteTo(bytes);
        return ReverseName(bytes[..address.ByteLength]);
    }
}
