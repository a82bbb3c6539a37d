using System.Buffers;
using System.Numerics;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// The proxy's shared HTTP cache (RFC 9111): stored responses by key, bounded by total bytes and entry count
/// with least-recently-used eviction, and the origin fetches in flight that identical misses wait for
/// (<see cref="CollapsedFetch"/>). One lock guards the maps and the LRU list; every operation under it is a
/// dictionary probe and a few pointer moves, and lookups by a span key allocate nothing.
/// </summary>
internal sealed class HttpCache
{
    private readonly Dictionary<string, CacheEntry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CacheEntry>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<string, CollapsedFetch> _fetches = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CollapsedFetch>.AlternateLookup<ReadOnlySpan<char>> _fetchLookup;
    private readonly Lock _lock = new();
    private readonly HttpProxyMetrics _metrics;
    private CacheEntry? _newest;
    private CacheEntry? _oldest;
    private long _bytes;
    private long _filling;

    public HttpCache(HttpCacheOptions options, HttpProxyMetrics metrics)
    {
        Options = options;
        _metrics = metrics;
        _lookup = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        _fetchLookup = _fetches.GetAlternateLookup<ReadOnlySpan<char>>();
        // Bodies are reused through a pool of the cache's own (a few free arrays per power-of-two size), so
        // storing a large response neither allocates on the large-object heap nor faults in fresh pages.
        int largest = (int)Math.Min(1 << 30, BitOperations.RoundUpToPowerOf2((ulong)Math.Max(options.MaxObjectBytes, 16)));
        BodyPool = ArrayPool<byte>.Create(largest, maxArraysPerBucket: 4);
        metrics.ObserveCache(this);
    }

    public HttpCacheOptions Options { get; }

    /// <summary>The pool entry bodies are rented from and returned to.</summary>
    public ArrayPool<byte> BodyPool { get; }

    /// <summary>Bytes held by stored entries.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Entries stored.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Origin fetches that identical misses may wait for, in flight now.</summary>
    public int FetchesInFlight
    {
        get
        {
            lock (_lock)
            {
                return _fetches.Count;
            }
        }
    }

    /// <summary>
    /// The entry stored under <paramref name="key"/>, marked as most recently used, with a reference the
    /// caller must <see cref="CacheEntry.Release"/>; null when none.
    /// </summary>
    public CacheEntry? Find(ReadOnlySpan<char> key)
    {
        lock (_lock)
        {
            // The map's own reference keeps a stored entry alive, so acquiring under the lock cannot fail.
            if (!_lookup.TryGetValue(key, out CacheEntry? entry) || !entry.TryAcquire())
            {
                return null;
            }

            Unlink(entry);
            LinkNewest(entry);
            return entry;
        }
    }

    /// <summary>
    /// Stores <paramref name="entry"/> (taking over the caller's reference), replacing any entry with its key,
    /// and evicts beyond the bounds.
    /// </summary>
    public void Store(CacheEntry entry)
    {
        int evicted = 0;
        long evictedBytes = 0;
        lock (_lock)
        {
            if (_entries.Remove(entry.Key, out CacheEntry? old))
            {
                Unlink(old);
                _bytes -= old.Size;
                old.Release();
            }

            _entries.Add(entry.Key, entry);
            LinkNewest(entry);
            _bytes += entry.Size;
            while ((_bytes + _filling > Options.MaxBytes || _entries.Count > Options.MaxEntries) && _oldest is not null && _oldest != entry)
            {
                evictedBytes += EvictOldest();
                evicted++;
            }
        }

        _metrics.CacheStored(entry.Head.Length + entry.Body.Length);
        if (evicted > 0)
        {
            _metrics.CacheEvicted(evicted, evictedBytes);
        }
    }

    /// <summary>
    /// Collapsed forwarding for a request that missed: wait for the fetch of <paramref name="key"/> in flight, or lead
    /// one (when <paramref name="mayLead"/>), or — when an entry other than <paramref name="missed"/> (the one the
    /// request found unusable, or null) was stored since the request looked — look again. Deciding under the lock
    /// that stores entries and ends fetches means no request misses both a fetch and the response it stored.
    /// </summary>
    /// <param name="fetch">The fetch to wait for (<see cref="CollapseRole.Waiter"/>) or to finish (<see cref="CollapseRole.Leader"/>).</param>
    public CollapseRole Join(ReadOnlySpan<char> key, CacheEntry? missed, bool mayLead, out CollapsedFetch? fetch)
    {
        lock (_lock)
        {
            if (_lookup.TryGetValue(key, out CacheEntry? stored) && stored != missed)
            {
                fetch = null;
                return CollapseRole.Stored;
            }

            if (_fetchLookup.TryGetValue(key, out fetch))
            {
                return CollapseRole.Waiter;
            }

            if (!mayLead)
            {
                return CollapseRole.Alone;
            }

            string text = new(key);
            fetch = new CollapsedFetch(this, text);
            _fetches.Add(text, fetch);
            return CollapseRole.Leader;
        }
    }

    /// <summary>Takes <paramref name="fetch"/> out of the fetches in flight (<see cref="CollapsedFetch.Finish"/>).</summary>
    internal void EndFetch(CollapsedFetch fetch)
    {
        lock (_lock)
        {
            if (_fetches.TryGetValue(fetch.Key, out CollapsedFetch? current) && current == fetch)
            {
                _fetches.Remove(fetch.Key);
            }
        }
    }

    /// <summary>Removes the entry stored under <paramref name="key"/> (RFC 9111 §4.4 invalidation); true when there was one.</summary>
    public bool Remove(ReadOnlySpan<char> key)
    {
        lock (_lock)
        {
            if (!_lookup.Remove(key, out _, out CacheEntry? entry))
            {
                return false;
            }

            Unlink(entry);
            _bytes -= entry.Size;
            entry.Release();
            return true;
        }
    }

    /// <summary>
    /// Reserves room for a response being filled, evicting the least recently used entries if needed, so that
    /// stored responses plus responses in flight stay within maxBytes (the entry replaces the reservation).
    /// False when responses in flight alone would exceed it.
    /// </summary>
    public bool TryReserve(long bytes)
    {
        int evicted = 0;
        long evictedBytes = 0;
        bool reserved;
        lock (_lock)
        {
            while (_bytes + _filling + bytes > Options.MaxBytes && _oldest is not null)
            {
                evictedBytes += EvictOldest();
                evicted++;
            }

            reserved = _bytes + _filling + bytes <= Options.MaxBytes;
            if (reserved)
            {
                _filling += bytes;
            }
        }

        if (evicted > 0)
        {
            _metrics.CacheEvicted(evicted, evictedBytes);
        }

        return reserved;
    }

    /// <summary>Gives back a reservation made with <see cref="TryReserve"/>.</summary>
    public void Release(long bytes)
    {
        lock (_lock)
        {
            _filling -= bytes;
        }
    }

    private long EvictOldest()
    {
        CacheEntry victim = _oldest!;
        Unlink(victim);
        _entries.Remove(victim.Key);
        _bytes -= victim.Size;
        victim.Release();
        return victim.Size;
    }

    private void LinkNewest(CacheEntry entry)
    {
        entry.Older = _newest;
        entry.Newer = null;
        if (_newest is not null)
        {
            _newest.Newer = entry;
        }

        _newest = entry;
        _oldest ??= entry;
    }

    private void Unlink(CacheEntry entry)
    {
        if (entry.Newer is not null)
        {
            entry.Newer.Older = entry.Older;
        }
        else if (_newest == entry)
        {
            _newest = entry.Older;
        }

        if (entry.Older is not null)
        {
            entry.Older.Newer = entry.Newer;
        }
        else if (_oldest == entry)
        {
            _oldest = entry.Newer;
        }

        entry.Newer = null;
        entry.Older = null;
    }
}
