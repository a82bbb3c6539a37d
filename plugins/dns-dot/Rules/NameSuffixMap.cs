using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Names mapped to values, matched on label boundaries: "ads.example.test" matches the query names
/// "ads.example.test" and "x.ads.example.test" but not "xads.example.test". Built once per (re)load,
/// read-only afterwards, so lookups from many threads are safe.
/// </summary>
/// <remarks>
/// Hand-written instead of a <see cref="Dictionary{TKey, TValue}"/> because the per-query cost decides the
/// rule budget (≤ 200 ns for a miss through 100,000 names plus lambdas): the query name's bytes are read
/// once, right to left, and the hash of every label suffix falls out of that single pass; each suffix is then
/// one probe into an open-addressing table keyed by (hash, length), and only a probe whose hash and length
/// agree compares bytes. No widening to UTF-16, no string hashing per suffix, no allocation. The table is
/// static after construction and at most half full, so probe sequences stay short whatever the query.
/// </remarks>
internal sealed class NameSuffixMap<T>
{
    private const ulong FnvOffset = 0xcbf29ce484222325;
    private const ulong FnvPrime = 0x100000001b3;

    private readonly Entry[] _entries;
    private readonly int[] _slots;
    private readonly byte[] _bytes;
    private readonly int _shift;

    public NameSuffixMap(Dictionary<string, T> normalizedNames)
    {
        ArgumentNullException.ThrowIfNull(normalizedNames);
        int count = normalizedNames.Count;
        int capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(8, count * 2));
        _shift = 64 - BitOperations.Log2((uint)capacity);
        _slots = new int[capacity];
        _entries = new Entry[count];
        int totalBytes = 0;
        foreach (string name in normalizedNames.Keys)
        {
            totalBytes += name.Length;
        }

        _bytes = new byte[totalBytes];
        int index = 0;
        int offset = 0;
        foreach ((string name, T value) in normalizedNames)
        {
            // Names are validated ASCII (DnsNames.Normalize), one byte per char like DnsQuery.NameBytes.
            int length = Encoding.ASCII.GetBytes(name, _bytes.AsSpan(offset));
            ulong hash = Hash(_bytes.AsSpan(offset, length));
            _entries[index] = new Entry(hash, offset, length, value);
            int slot = Slot(hash, length);
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & (capacity - 1);
            }

            _slots[slot] = index + 1;
            index++;
            offset += length;
        }
    }

    /// <summary>The number of names.</summary>
    public int Count => _entries.Length;

    /// <summary>Creates the dictionary a map is built from (ordinal).</summary>
    public static Dictionary<string, T> CreateDictionary(int capacity = 0) => new(capacity, StringComparer.Ordinal);

    /// <summary>
    /// Finds the longest entry that equals <paramref name="name"/> or is a suffix of it starting after a dot
    /// (the most specific match). <paramref name="name"/> is <see cref="DnsQuery.NameBytes"/>: lower-case
    /// presentation form, no trailing dot.
    /// </summary>
    public bool TryMatch(ReadOnlySpan<byte> name, out T value)
    {
        bool found = false;
        value = default!;
        if (_entries.Length == 0)
        {
            return false;
        }

        ulong hash = FnvOffset;
        for (int i = name.Length - 1; i >= 0; i--)
        {
            byte b = name[i];

            // name[i..] is a whole-label suffix when it starts the name or follows an unescaped dot
            // ("\." inside a label is an escaped dot, RFC 4343 §2.1).
            if (b == (byte)'.' && i + 1 < name.Length && (i == 0 || name[i - 1] != (byte)'\\'))
            {
                if (TryFind(name[(i + 1)..], hash, out T candidate))
                {
                    value = candidate;
                    found = true;
                }
            }

            hash = (hash ^ b) * FnvPrime;
        }

        if (TryFind(name, hash, out T whole))
        {
            value = whole;
            found = true;
        }

        return found;
    }

    /// <summary>
    /// Calls <paramref name="visitor"/> for every entry that equals <paramref name="name"/> or is a suffix of it on a
    /// label boundary, shortest first (one right-to-left pass, as <see cref="TryMatch"/>). For matchers whose
    /// entries differ in how they apply (exact name only, subdomains only), where the longest match alone would
    /// hide a shorter entry that applies.
    /// </summary>
    public void VisitMatches<TVisitor>(ReadOnlySpan<byte> name, ref TVisitor visitor)
        where TVisitor : struct, ISuffixVisitor<T>
    {
        if (_entries.Length == 0)
        {
            return;
        }

        ulong hash = FnvOffset;
        for (int i = name.Length - 1; i >= 0; i--)
        {
            byte b = name[i];
            if (b == (byte)'.' && i + 1 < name.Length && (i == 0 || name[i - 1] != (byte)'\\') && TryFind(name[(i + 1)..], hash, out T candidate))
            {
                // The label left of the entry starts after the previous unescaped dot (or at 0).
                int start = i - 1;
                while (start >= 0 && !(name[start] == (byte)'.' && (start == 0 || name[start - 1] != (byte)'\\')))
                {
                    start--;
                }

                visitor.Visit(candidate, whole: false, start + 1, name);
            }

            hash = (hash ^ b) * FnvPrime;
        }

        if (TryFind(name, hash, out T whole))
        {
            visitor.Visit(whole, whole: true, 0, name);
        }
    }

    /// <summary>Finds an entry equal to <paramref name="name"/> (no subdomains).</summary>
    public bool TryMatchExact(ReadOnlySpan<byte> name, out T value)
    {
        if (_entries.Length == 0)
        {
            value = default!;
            return false;
        }

        return TryFind(name, Hash(name), out value);
    }

    /// <summary>The hash of <paramref name="bytes"/> as <see cref="TryMatch"/> computes it: FNV-1a, last byte first.</summary>
    private static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        ulong hash = FnvOffset;
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            hash = (hash ^ bytes[i]) * FnvPrime;
        }

        return hash;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong hash, int length) => (int)(((hash ^ (uint)length) * 0x9E3779B97F4A7C15) >> _shift);

    private bool TryFind(ReadOnlySpan<byte> key, ulong hash, out T value)
    {
        int[] slots = _slots;
        Entry[] entries = _entries;
        int mask = slots.Length - 1;
        int slot = Slot(hash, key.Length);
        while (true)
        {
            int index = slots[slot] - 1;
            if (index < 0)
            {
                value = default!;
                return false;
            }

            ref readonly Entry entry = ref entries[index];
            if (entry.Hash == hash && entry.Length == key.Length && key.SequenceEqual(_bytes.AsSpan(entry.Offset, entry.Length)))
            {
                value = entry.Value;
                return true;
            }

            slot = (slot + 1) & mask;
        }
    }

    private readonly record struct Entry(ulong Hash, int Offset, int Length, T Value);
}
