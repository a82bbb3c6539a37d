using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// One stored response: its head (status line and end-to-end fields with Content-Length, without Age, Via of
/// this hop or the final empty line) and its body. A hit writes the head and the body straight from these
/// arrays. Immutable once stored: an update (a 304) stores a new entry, so a session still sending the old one
/// is never disturbed. The body array comes from the cache's pool and goes back to it when the last reference
/// is released: the cache holds one while the entry is stored, each session one while it uses the entry.
/// </summary>
internal sealed class CacheEntry
{
    private readonly byte[] _head;
    private readonly byte[] _body;
    private readonly int _bodyLength;
    private readonly ArrayPool<byte>? _pool;
    private int _references = 1;

    /// <param name="pool">Where <paramref name="body"/> goes back when the last reference is released (null: nowhere).</param>
    public CacheEntry(string key, byte[] head, byte[] body, int bodyLength, int status, ArrayPool<byte>? pool = null)
    {
        Key = key;
        _head = head;
        _body = body;
        _bodyLength = bodyLength;
        _pool = pool;
        Status = status;
    }

    /// <summary>The cache key: lower-case host, ':', port, path and query (<see cref="CacheKey"/>).</summary>
    public string Key { get; }

    public int Status { get; }

    public ReadOnlySpan<byte> Head => _head;

    public ReadOnlyMemory<byte> Body => _body.AsMemory(0, _bodyLength);

    /// <summary>Environment.TickCount64 when the response was received (response_time of RFC 9111 §4.2.3).</summary>
    public long ReceivedAtMs { get; init; }

    /// <summary>corrected_initial_age in seconds (RFC 9111 §4.2.3).</summary>
    public long CorrectedInitialAge { get; init; }

    /// <summary>Freshness lifetime in seconds (RFC 9111 §4.2.1).</summary>
    public long Lifetime { get; init; }

    /// <summary>Must not be served stale: must-revalidate, proxy-revalidate, s-maxage or no-cache.</summary>
    public bool MustRevalidate { get; init; }

    /// <summary>The ETag value, sent as If-None-Match when revalidating (RFC 9111 §4.3.1).</summary>
    public byte[]? ETag { get; init; }

    /// <summary>The Last-Modified value, sent as If-Modified-Since when revalidating.</summary>
    public byte[]? LastModified { get; init; }

    /// <summary>Lower-case names of the request fields the response varies on (RFC 9111 §4.1), or null.</summary>
    public byte[][]? VaryNames { get; init; }

    /// <summary>The stored request's combined value for each Vary name; null when it had none.</summary>
    public byte[]?[]? VaryValues { get; init; }

    /// <summary>
    /// The origin address the response came from. A hit is served only to a client whose destination policy allows
    /// it, so a response a local client fetched from a loopback service never answers a remote one (issue #13).
    /// </summary>
    public NetAddress OriginAddress { get; init; }

    /// <summary>Bytes this entry is charged to the cache's budget.</summary>
    public long Size => _head.Length + _body.Length + (Key.Length * 2) + 160;

    public bool HasValidator => ETag is not null || LastModified is not null;

    // LRU list links, owned by HttpCache under its lock.
    internal CacheEntry? Newer;
    internal CacheEntry? Older;

    /// <summary>Takes a reference; false when the entry was already given back (its body may be reused).</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int references = Volatile.Read(ref _references);
            if (references == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _references, references + 1, references) == references)
            {
                return true;
            }
        }
    }

    /// <summary>Gives a reference back; the last one returns the body to the pool.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0 && _pool is not null && _body.Length > 0)
        {
            _pool.Return(_body);
        }
    }

    /// <summary>current_age of RFC 9111 §4.2.3, in milliseconds.</summary>
    public long CurrentAgeMs(long nowMs) => (CorrectedInitialAge * 1000) + Math.Max(0, nowMs - ReceivedAtMs);

    /// <summary>Whether the request's fields named by Vary match the stored request's (RFC 9111 §4.1).</summary>
    public bool VaryMatches(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields)
    {
        if (VaryNames is null)
        {
            return true;
        }

        Span<byte> scratch = stackalloc byte[1024];
        for (int i = 0; i < VaryNames.Length; i++)
        {
            int length = CombinedValue(head, fields, VaryNames[i], scratch);
            byte[]? stored = VaryValues![i];
            if (length == -2 || (length < 0) != (stored is null) || (stored is not null && !scratch[..length].SequenceEqual(stored)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The values of every field called <paramref name="name"/>, joined by ", " (RFC 9110 §5.3) into
    /// <paramref name="destination"/>; -1 when there is none, -2 when they do not fit.
    /// </summary>
    public static int CombinedValue(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, ReadOnlySpan<byte> name, Span<byte> destination)
    {
        int length = -1;
        foreach (ref readonly HeaderField field in fields)
        {
            if (!Ascii.EqualsIgnoreCase(field.Name(head), name))
            {
                continue;
            }

            ReadOnlySpan<byte> value = field.Value(head);
            int start = length < 0 ? 0 : length + 2;
            if (start + value.Length > destination.Length)
            {
                return -2;
            }

            if (length >= 0)
            {
                ", "u8.CopyTo(destination[length..]);
            }

            value.CopyTo(destination[start..]);
            length = start + value.Length;
        }

        return length;
    }
}
