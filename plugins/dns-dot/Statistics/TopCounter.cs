using System.Runtime.InteropServices;
using System.Text;

namespace Gateway.Plugins.DnsDot.Statistics;

/// <summary>
/// Counts per key with a bounded number of keys: when full, the less frequent half is dropped (a key seen often
/// keeps its count; a long tail of one-off names cannot grow memory). Each key's label (a name, an address) is
/// written once, when the key is new, into a byte arena that is compacted in place when full — so once warm,
/// counting allocates nothing even when the tail churns. Strings are made only when the API asks. Used on the
/// writer thread only.
/// </summary>
internal sealed class TopCounter<TKey>
    where TKey : notnull
{
    /// <summary>Bytes of label space per key the arena may grow to.</summary>
    private const int BytesPerKey = 64;

    private readonly Dictionary<TKey, Entry> _entries = new();
    private readonly int _capacity;
    private byte[] _arena = new byte[4096];
    private byte[] _spare = [];
    private long[] _counts = [];
    private TKey[] _victims = [];
    private int _used;

    public TopCounter(int capacity) => _capacity = capacity;

    /// <summary>Writes a key's label into the destination and returns its length (at most 255 bytes).</summary>
    public delegate int LabelWriter<TState>(TState state, Span<byte> destination)
        where TState : allows ref struct;

    /// <summary>Keys held.</summary>
    public int Count => _entries.Count;

    /// <summary>Counts one for <paramref name="key"/>; <paramref name="label"/> writes its text when it is new.</summary>
    public void Add<TState>(TKey key, TState state, LabelWriter<TState> label)
        where TState : allows ref struct
    {
        if (_entries.Count >= _capacity && !_entries.ContainsKey(key))
        {
            Prune();
        }

        ref Entry entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, key, out bool exists);
        if (!exists)
        {
            if (_arena.Length - _used < 256)
            {
                // Compact first (labels of removed keys are garbage); grow only if that did not free enough.
                entry.Length = -1;
                Compact();
                if (_arena.Length - _used < 256)
                {
                    Array.Resize(ref _arena, Math.Min(Math.Max(_arena.Length * 2, 4096), Math.Max(_capacity * BytesPerKey, _used + 256)));
                }
            }

            entry.Offset = _used;
            entry.Length = label(state, _arena.AsSpan(_used, 255));
            _used += entry.Length;
        }

        entry.Count++;
    }

    /// <summary>Adds every count of this counter into <paramref name="totals"/> (merging windows; strings made here).</summary>
    public void AddTo(Dictionary<string, long> totals)
    {
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Length >= 0)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(totals, Encoding.UTF8.GetString(_arena, entry.Offset, entry.Length), out _) += entry.Count;
            }
        }
    }

    /// <summary>Forgets everything (a window that fell out of the hour).</summary>
    public void Clear()
    {
        _entries.Clear();
        _used = 0;
    }

    private void Prune()
    {
        if (_counts.Length < _entries.Count)
        {
            _counts = new long[_capacity];
            _victims = new TKey[_capacity];
        }

        int n = 0;
        foreach (Entry entry in _entries.Values)
        {
            _counts[n++] = entry.Count;
        }

        Array.Sort(_counts, 0, n);

        // Drop half by rank: everything below the median, then keys at the median until half are gone (when
        // most counts are equal, "count <= median" alone would drop them all).
        long threshold = _counts[n / 2];
        int quota = n / 2;
        int victims = 0;
        foreach ((TKey key, Entry entry) in _entries)
        {
            if (entry.Count < threshold)
            {
                _victims[victims++] = key;
            }
        }

        foreach ((TKey key, Entry entry) in _entries)
        {
            if (victims >= quota)
            {
                break;
            }

            if (entry.Count == threshold)
            {
                _victims[victims++] = key;
            }
        }

        for (int i = 0; i < victims; i++)
        {
            _entries.Remove(_victims[i]);
            _victims[i] = default!;
        }

        Compact();
    }

    // Moves the live labels to the front of a second arena and swaps the two (no allocation once both exist).
    private void Compact()
    {
        if (_spare.Length < _arena.Length)
        {
            _spare = new byte[_arena.Length];
        }

        int used = 0;
        foreach (TKey key in _entries.Keys)
        {
            ref Entry entry = ref CollectionsMarshal.GetValueRefOrNullRef(_entries, key);
            if (entry.Length <= 0)
            {
                continue;
            }

            _arena.AsSpan(entry.Offset, entry.Length).CopyTo(_spare.AsSpan(used));
            entry.Offset = used;
            used += entry.Length;
        }

        (_arena, _spare) = (_spare, _arena);
        _used = used;
    }

    private struct Entry
    {
        public long Count;
        public int Offset;
        public int Length;
    }
}
