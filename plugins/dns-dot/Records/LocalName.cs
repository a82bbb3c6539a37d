namespace Gateway.Plugins.DnsDot.Records;

/// <summary>The local records of one owner name (or one wildcard), grouped by type; immutable.</summary>
internal sealed class LocalName
{
    public LocalName(string name, byte[] wireName, LocalRecord[] records)
    {
        Name = name;
        WireName = wireName;
        Records = records;
        foreach (LocalRecord record in records)
        {
            if (record.Type == LocalRecord.TypeCname)
            {
                Cname = record;
            }
        }
    }

    /// <summary>The owner as rules see names (for a wildcard, the part after "*.").</summary>
    public string Name { get; }

    /// <summary>The owner in wire form.</summary>
    public byte[] WireName { get; }

    /// <summary>Every record, in configuration order.</summary>
    public LocalRecord[] Records { get; }

    /// <summary>The CNAME, when the name is an alias (then it has no other records: RFC 1034 §3.6.2).</summary>
    public LocalRecord? Cname { get; }
}
