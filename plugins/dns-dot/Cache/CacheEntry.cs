namespace Gateway.Plugins.DnsDot.Cache;

/// <summary>
/// One cached answer: the upstream response without its OPT record (OPT is per hop), where its TTL fields
/// are, and when it was stored. Immutable once published, except the hit counter and prefetch flag.
/// </summary>
internal sealed class CacheEntry
{
    /// <summary>Creates an entry.</summary>
    public CacheEntry(byte[] name, ushort type, ushort @class, bool dnssecOk, byte[] body, int[] ttlOffsets, byte extendedRcode, long storedAt, uint ttl)
    {
        Name = name;
        Type = type;
        Class = @class;
        DnssecOk = dnssecOk;
        Body = body;
        TtlOffsets = ttlOffsets;
        ExtendedRcode = extendedRcode;
        StoredAt = storedAt;
        Ttl = ttl;
    }

    /// <summary>The question name in lower-case wire form.</summary>
    public byte[] Name { get; }

    /// <summary>The question type.</summary>
    public ushort Type { get; }

    /// <summary>The question class.</summary>
    public ushort Class { get; }

    /// <summary>The DO bit of the query it answers.</summary>
    public bool DnssecOk { get; }

    /// <summary>The response without OPT, id and question case as received.</summary>
    public byte[] Body { get; }

    /// <summary>Offsets of the TTL fields in <see cref="Body"/>.</summary>
    public int[] TtlOffsets { get; }

    /// <summary>The cache id of the upstream group that gave it (<see cref="LoadBalancing.UpstreamGroup.CacheId"/>).</summary>
    public int Group { get; init; }

    /// <summary>Upper RCODE bits from the upstream OPT.</summary>
    public byte ExtendedRcode { get; }

    /// <summary>When it was stored (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>).</summary>
    public long StoredAt { get; }

    /// <summary>Seconds it stays fresh.</summary>
    public uint Ttl { get; }

    /// <summary>Cache hits so far (for prefetch).</summary>
    public int Hits;

    /// <summary>1 once a prefetch was started for it.</summary>
    public int Prefetching;
}
