namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// A response being stored while it streams to the client (one per client connection, reused). With a
/// Content-Length the entry's final array is allocated at once and filled in place; otherwise (chunked, or
/// delimited by close) the body grows in steps and is copied once at the end. The bytes are charged to the
/// cache's budget as they are taken, and the fill is abandoned beyond maxObjectBytes or the budget: the
/// client still gets every byte, the cache just does not keep them.
/// </summary>
internal sealed class CacheFill
{
    private const int InitialBodyCapacity = 16 * 1024;

    private readonly HttpCache _cache;
    private byte[] _data = [];
    private int _count;
    private int _headLength;
    private long _expectedBody;
    private long _reserved;
    private CacheEntry _template = null!;

    public CacheFill(HttpCache cache)
    {
        _cache = cache;
    }

    /// <summary>A response is being collected.</summary>
    public bool Active { get; private set; }

    /// <summary>
    /// Starts collecting: <paramref name="head"/> is the stored head without Content-Length, <paramref name="template"/>
    /// carries everything of the entry but its bytes, <paramref name="contentLength"/> is -1 when unknown.
    /// False when the response is too large or the budget is used up.
    /// </summary>
    public bool Begin(CacheEntry template, ReadOnlySpan<byte> head, long contentLength)
    {
        Abandon();
        long maxObject = _cache.Options.MaxObjectBytes;
        if (contentLength > maxObject)
        {
            return false;
        }

        Span<byte> lengthLine = stackalloc byte[40];
        int lengthLineLength = 0;
        if (contentLength >= 0 && template.Status != 204)
        {
            lengthLineLength = LengthLine(contentLength, lengthLine);
        }

        long capacity = contentLength >= 0 ? head.Length + lengthLineLength + contentLength : head.Length + Math.Min(InitialBodyCapacity, maxObject);
        if (!_cache.TryReserve(capacity))
        {
            return false;
        }

        _reserved = capacity;
        _data = GC.AllocateUninitializedArray<byte>((int)capacity);
        head.CopyTo(_data);
        lengthLine[..lengthLineLength].CopyTo(_data.AsSpan(head.Length));
        _headLength = head.Length + lengthLineLength;
        _count = _headLength;
        _expectedBody = contentLength;
        _template = template;
        Active = true;
        return true;
    }

    /// <summary>Adds body bytes; abandons the fill when they exceed the limits.</summary>
    public void Append(ReadOnlySpan<byte> body)
    {
        if (!Active || body.IsEmpty)
        {
            return;
        }

        if (_count + body.Length > _data.Length && !Grow(body.Length))
        {
            Abandon();
            return;
        }

        body.CopyTo(_data.AsSpan(_count));
        _count += body.Length;
    }

    /// <summary>Ends a complete body: the entry to store, or null when nothing usable was collected.</summary>
    public CacheEntry? Complete()
    {
        if (!Active)
        {
            return null;
        }

        int bodyLength = _count - _headLength;
        byte[] data;
        int headLength = _headLength;
        if (_expectedBody >= 0)
        {
            if (bodyLength != _expectedBody)
            {
                Abandon();
                return null;
            }

            data = _data;
        }
        else
        {
            // Length unknown until now: the stored head gets its Content-Length, then the body.
            Span<byte> lengthLine = stackalloc byte[40];
            int lineLength = _template.Status == 204 ? 0 : LengthLine(bodyLength, lengthLine);
            data = GC.AllocateUninitializedArray<byte>(_headLength + lineLength + bodyLength);
            _data.AsSpan(0, _headLength).CopyTo(data);
            lengthLine[..lineLength].CopyTo(data.AsSpan(_headLength));
            _data.AsSpan(_headLength, bodyLength).CopyTo(data.AsSpan(_headLength + lineLength));
            headLength += lineLength;
        }

        CacheEntry entry = new(_template.Key, data, headLength, _template.Status)
        {
            ReceivedAtMs = _template.ReceivedAtMs,
            CorrectedInitialAge = _template.CorrectedInitialAge,
            Lifetime = _template.Lifetime,
            MustRevalidate = _template.MustRevalidate,
            ETag = _template.ETag,
            LastModified = _template.LastModified,
            VaryNames = _template.VaryNames,
            VaryValues = _template.VaryValues,
        };
        Reset();
        return entry;
    }

    /// <summary>Drops what was collected (error, overflow, or an incomplete body).</summary>
    public void Abandon()
    {
        if (Active)
        {
            Reset();
        }
    }

    private void Reset()
    {
        _cache.Release(_reserved);
        _reserved = 0;
        _data = [];
        _count = 0;
        _template = null!;
        Active = false;
    }

    private bool Grow(int needed)
    {
        long maxCapacity = _headLength + _cache.Options.MaxObjectBytes;
        if (_expectedBody >= 0 || _count + needed > maxCapacity)
        {
            return false;
        }

        long capacity = Math.Min(maxCapacity, Math.Max((long)_data.Length * 2, _count + needed));
        if (!_cache.TryReserve(capacity - _reserved))
        {
            return false;
        }

        _reserved = capacity;
        byte[] larger = GC.AllocateUninitializedArray<byte>((int)capacity);
        _data.AsSpan(0, _count).CopyTo(larger);
        _data = larger;
        return true;
    }

    private static int LengthLine(long length, Span<byte> destination)
    {
        "Content-Length: "u8.CopyTo(destination);
        length.TryFormat(destination[16..], out int digits);
        "\r\n"u8.CopyTo(destination[(16 + digits)..]);
        return 16 + digits + 2;
    }
}
