using System.Buffers.Binary;
using System.Diagnostics;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.Cache;

/// <summary>
/// Answers keyed by (lower-case name, type, class, DO bit, upstream group — a rule's <c>Forward(group:)</c>
/// gets its own answers, so a rule edit never serves another group's): positive and negative (RFC 2308 §5), TTLs aged
/// on the way out (RFC 1035 §7.3), serve-stale with a bounded stale age (RFC 8767), prefetch of popular
/// names near expiry, and a cap on entries and on bytes (<c>cache.maxBytes</c>: answers can be 64 KiB each, so
/// a count alone would let large answers take gigabytes). Lookups allocate nothing.
/// </summary>
internal sealed class DnsCache
{
    /// <summary>RFC 8767 §4: stale answers go out with a TTL of 30 s.</summary>
    public const uint StaleTtl = 30;

    // What one entry costs besides its arrays' contents: the CacheEntry object, three array headers and the
    // dictionary slot (measured as about 150 bytes on x64; rounded up).
    private const int EntryOverhead = 160;

    private readonly Dictionary<ulong, CacheEntry> _entries = new();
    private readonly CacheOptions _options;
    private long _bytes;

    /// <summary>Creates an empty cache.</summary>
    public DnsCache(CacheOptions options) => _options = options;

    /// <summary>Entries held.</summary>
    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Bytes the entries take, as counted against <see cref="CacheOptions.MaxBytes"/>.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>What <paramref name="entry"/> counts against <see cref="CacheOptions.MaxBytes"/>.</summary>
    public static long Cost(CacheEntry entry) => EntryOverhead + entry.Body.Length + entry.Name.Length + (entry.TtlOffsets.Length * sizeof(int));

    /// <summary>The key hash of a question (name case-folded) sent to the group with <paramref name="group"/>'s cache id.</summary>
    public static ulong Key(ReadOnlySpan<byte> wireName, ushort type, ushort @class, bool dnssecOk, int group = 0)
    {
        // FNV-1a over the folded name, then the rest; the entry's stored name guards against collisions.
        ulong hash = 14695981039346656037UL;
        foreach (byte b in wireName)
        {
            hash = (hash ^ DnsName.ToLower(b)) * 1099511628211UL;
        }

        hash = (hash ^ type) * 1099511628211UL;
        hash = (hash ^ @class) * 1099511628211UL;
        hash = (hash ^ (uint)group) * 1099511628211UL;
        return (hash ^ (dnssecOk ? 1UL : 0UL)) * 1099511628211UL;
    }

    /// <summary>Looks up a question asked of the group with cache id <paramref name="group"/>.</summary>
    public CacheLookup TryGet(ulong key, ReadOnlySpan<byte> wireName, ushort type, ushort @class, bool dnssecOk, long now, out CacheEntry? entry, int group = 0)
    {
        lock (_entries)
        {
            _entries.TryGetValue(key, out entry);
        }

        if (entry is null || entry.Type != type || entry.Class != @class || entry.DnssecOk != dnssecOk || entry.Group != group ||
            !DnsName.EqualsIgnoreCase(entry.Name, wireName))
        {
            entry = null;
            return CacheLookup.Miss;
        }

        double age = (double)(now - entry.StoredAt) / Stopwatch.Frequency;
        if (age < entry.Ttl)
        {
            int hits = Interlocked.Increment(ref entry.Hits);
            if (_options.PrefetchHits > 0 && hits >= _options.PrefetchHits && entry.Ttl - age < entry.Ttl / 10.0 &&
                Interlocked.Exchange(ref entry.Prefetching, 1) == 0)
            {
                return CacheLookup.FreshPrefetch;
            }

            return CacheLookup.Fresh;
        }

        if (age < entry.Ttl + (double)_options.MaxStaleAge)
        {
            return CacheLookup.Stale;
        }

        entry = null;
        return CacheLookup.Miss;
    }

    /// <summary>
    /// Stores an upstream response body (OPT already removed) if it may be cached: NOERROR or NXDOMAIN with
    /// a TTL above zero, never truncated ones. Returns the entry (also usable by coalesced waiters), or null.
    /// </summary>
    public CacheEntry? Store(ulong key, ReadOnlySpan<byte> body, ReadOnlySpan<byte> wireName, ushort type, ushort @class, bool dnssecOk, byte extendedRcode, long now, int group = 0)
    {
        CacheEntry? entry = CreateEntry(body, wireName, type, @class, dnssecOk, extendedRcode, now, _options, group);
        if (entry is null || entry.Ttl == 0)
        {
            return entry;
        }

        long cost = Cost(entry);
        if (cost > _options.MaxBytes)
        {
            // Larger than the whole cache: answered, never stored.
            return entry;
        }

        lock (_entries)
        {
            if (_entries.Remove(key, out CacheEntry? replaced))
            {
                Interlocked.Add(ref _bytes, -Cost(replaced));
            }

            if (_entries.Count >= _options.MaxEntries || _bytes + cost > _options.MaxBytes)
            {
                Evict(now, cost);
            }

            _entries[key] = entry;
            Interlocked.Add(ref _bytes, cost);
        }

        return entry;
    }

    /// <summary>Builds an entry from a response body; null when the body is unreadable.</summary>
    public static CacheEntry? CreateEntry(ReadOnlySpan<byte> body, ReadOnlySpan<byte> wireName, ushort type, ushort @class, bool dnssecOk, byte extendedRcode, long now, CacheOptions options, int group = 0)
    {
        Span<int> offsets = stackalloc int[256];
        if (!DnsMessageReader.TryScanResponse(body, wireName, type, offsets, out DnsResponseInfo info) || info.TtlCount > offsets.Length)
        {
            return null;
        }

        bool cacheable = !info.Truncated && (info.Rcode == DnsConstants.RcodeNoError || info.Rcode == DnsConstants.RcodeNxDomain) && extendedRcode == 0;
        uint ttl = !cacheable ? 0 : Math.Min(info.CacheTtl, (uint)(info.IsNegative ? options.MaxNegativeTtl : options.MaxTtl));
        byte[] name = new byte[wireName.Length];
        for (int i = 0; i < name.Length; i++)
        {
            name[i] = DnsName.ToLower(wireName[i]);
        }

        return new CacheEntry(name, type, @class, dnssecOk, body[..info.Length].ToArray(), offsets[..info.TtlCount].ToArray(), extendedRcode, now, ttl) { Group = group };
    }

    /// <summary>
    /// Writes the client's answer from an entry into <paramref name="destination"/> (room for the body plus
    /// an OPT): TTLs aged by the entry's age, or set to 30 s when serving stale.
    /// </summary>
    public static int WriteAnswer(CacheEntry entry, bool stale, long now, ReadOnlySpan<byte> query, in DnsRequestInfo info, Span<byte> destination, int limit)
    {
        entry.Body.CopyTo(destination);
        uint elapsed = (uint)Math.Min((now - entry.StoredAt) / Stopwatch.Frequency, uint.MaxValue);
        if (stale || elapsed > 0)
        {
            foreach (int offset in entry.TtlOffsets)
            {
                uint ttl = BinaryPrimitives.ReadUInt32BigEndian(destination[offset..]);
                uint aged = stale ? StaleTtl : ttl > elapsed ? ttl - elapsed : 0;
                BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], aged);
            }
        }

        return DnsMessageWriter.FinishAnswer(destination, entry.Body.Length, query, info, ReadOnlySpan<int>.Empty, 0, entry.ExtendedRcode, limit);
    }

    /// <summary>Drops every entry (the admin API's <c>POST cache/flush</c>); returns how many there were.</summary>
    public int Clear()
    {
        lock (_entries)
        {
            int count = _entries.Count;
            _entries.Clear();
            return count;
        }
    }

    /// <summary>
    /// Drops the answers of groups a reload retired (their cache ids are never asked again), so a cache kept
    /// across a reload does not hold dead entries until eviction. Returns how many were dropped.
    /// </summary>
    public int RemoveGroupsExcept(IReadOnlySet<int> liveGroups)
    {
        lock (_entries)
        {
            List<ulong>? dead = null;
            foreach ((ulong key, CacheEntry entry) in _entries)
            {
                if (!liveGroups.Contains(entry.Group))
                {
                    (dead ??= new()).Add(key);
                }
            }

            if (dead is not null)
            {
                foreach (ulong key in dead)
                {
                    if (_entries.Remove(key, out CacheEntry? removed))
                    {
                        Interlocked.Add(ref _bytes, -Cost(removed));
                    }
                }
            }

            return dead?.Count ?? 0;
        }
    }

    // Called under the lock, to make room for one entry of `cost` bytes: first drop what is past its stale age,
    // then, while still over either cap, an eighth of the entries at a time in enumeration order (cheap,
    // approximately random).
    private void Evict(long now, long cost)
    {
        List<ulong>? victims = null;
        long staleTicks = (long)_options.MaxStaleAge * Stopwatch.Frequency;
        foreach ((ulong key, CacheEntry entry) in _entries)
        {
            if (now - entry.StoredAt > (entry.Ttl * Stopwatch.Frequency) + staleTicks)
            {
                (victims ??= new()).Add(key);
            }
        }

        RemoveAll(victims);
        while (_entries.Count > 0 && (_entries.Count >= _options.MaxEntries || _bytes + cost > _options.MaxBytes))
        {
            victims?.Clear();
            int quota = Math.Max(1, _entries.Count / 8);
            foreach (ulong key in _entries.Keys)
            {
                (victims ??= new()).Add(key);
                if (--quota == 0)
                {
                    break;
                }
            }

            RemoveAll(victims);
        }
    }

    private void RemoveAll(List<ulong>? keys)
    {
        if (keys is null)
        {
            return;
        }

        foreach (ulong key in keys)
        {
            if (_entries.Remove(key, out CacheEntry? removed))
            {
                Interlocked.Add(ref _bytes, -Cost(removed));
            }
        }
    }
}
