using System.Buffers;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// A response being stored while it streams to the client (one per client connection, reused). The body is
/// collected in an array from the cache's pool: with a Content-Length it is rented at its final size and
/// filled in place; otherwise (chunked, or delimited by close) it grows in steps. The bytes are charged to the
/// cache's budget as they are taken, and the fill is abandoned beyond maxObjectBytes or the budget: the
/// client still gets every byte, the cache just does not keep them. Abandoning it releases the requests waiting
/// for the response (<see cref="CollapsedFetch"/>) at once, so they need not wait for the rest of a body that
/// will not be stored.
/// </summary>
internal sealed class CacheFill
{
    private const int InitialBodyCapacity = 16 * 1024;

    private readonly HttpCache _cache;
    private byte[] _head = [];
    private byte[] _body = [];
    private int _count;
    private long _expectedBody;
    private long _reserved;
    private CacheEntry _template = null!;
    private CollapsedFetch? _fetch;

    public CacheFill(HttpCache cache)
    {
        _cache = cache;
    }

    /// <summary>A response is being collected.</summary>
    public bool Active { get; private set; }

    /// <summary>
    /// Starts collecting: <paramref name="head"/> is the stored head without Content-Length, <paramref name="template"/>
    /// carries everything of the entry but its bytes, <paramref name="contentLength"/> is -1 when unknown,
    /// <paramref name="fetch"/> is the fetch other requests wait for (finished unstored if the fill is abandoned;
    /// the caller finishes it after storing what <see cref="Complete"/> returns). False when the response is too
    /// large or the budget is used up.
    /// </summary>
    public bool Begin(CacheEntry template, ReadOnlySpan<byte> head, long contentLength, CollapsedFetch? fetch = null)
    {
        Abandon();
        long maxObject = _cache.Options.MaxObjectBytes;
        if (contentLength > maxObject)
        {
            return false;
        }

        int bodyCapacity = contentLength >= 0 ? (int)contentLength : (int)Math.Min(InitialBodyCapacity, maxObject);
        byte[] body = bodyCapacity == 0 ? [] : _cache.BodyPool.Rent(bodyCapacity);
        long reserve = head.Length + 40 + body.Length;
        if (!_cache.TryReserve(reserve))
        {
            ReturnBody(body);
            return false;
        }

        _reserved = reserve;
        _head = contentLength >= 0 && template.Status != 204 ? WithLength(head, contentLength) : head.ToArray();
        _body = body;
        _count = 0;
        _expectedBody = contentLength;
        _template = template;
        _fetch = fetch;
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

        if (_count + body.Length > _cache.Options.MaxObjectBytes || (_count + body.Length > _body.Length && !Grow(body.Length)))
        {
            Abandon();
            return;
        }

        body.CopyTo(_body.AsSpan(_count));
        _count += body.Length;
    }

    /// <summary>Ends a complete body: the entry to store (holding one reference), or null when nothing usable was collected.</summary>
    public CacheEntry? Complete()
    {
        if (!Active)
        {
            return null;
        }

        byte[] head = _head;
        if (_expectedBody >= 0)
        {
            if (_count != _expectedBody)
            {
                Abandon();
                return null;
            }
        }
        else if (_template.Status != 204)
        {
            // Length unknown until now: the stored head gets its Content-Length.
            head = WithLength(_head, _count);
        }

        CacheEntry entry = new(_template.Key, head, _body, _count, _template.Status, _cache.BodyPool)
        {
            ReceivedAtMs = _template.ReceivedAtMs,
            CorrectedInitialAge = _template.CorrectedInitialAge,
            Lifetime = _template.Lifetime,
            MustRevalidate = _template.MustRevalidate,
            ETag = _template.ETag,
            LastModified = _template.LastModified,
            VaryNames = _template.VaryNames,
            VaryValues = _template.VaryValues,
            OriginAddress = _template.OriginAddress,
        };
        _body = [];
        _fetch = null;
        Reset();
        return entry;
    }

    /// <summary>Drops what was collected (error, overflow, or an incomplete body).</summary>
    public void Abandon()
    {
        if (Active)
        {
            ReturnBody(_body);
            _body = [];
            CollapsedFetch? fetch = _fetch;
            _fetch = null;
            Reset();
            fetch?.Finish(stored: false);
        }
    }

    private void Reset()
    {
        _cache.Release(_reserved);
        _reserved = 0;
        _head = [];
        _count = 0;
        _template = null!;
        Active = false;
    }

    private bool Grow(int needed)
    {
        long maxObject = _cache.Options.MaxObjectBytes;
        if (_expectedBody >= 0 || _count + needed > maxObject)
        {
            return false;
        }

        int capacity = (int)Math.Min(maxObject, Math.Max((long)_body.Length * 2, _count + needed));
        byte[] larger = _cache.BodyPool.Rent(capacity);
        if (!_cache.TryReserve(larger.Length - _body.Length))
        {
            ReturnBody(larger);
            return false;
        }

        _reserved += larger.Length - _body.Length;
        _body.AsSpan(0, _count).CopyTo(larger);
        ReturnBody(_body);
        _body = larger;
        return true;
    }

    private void ReturnBody(byte[] body)
    {
        if (body.Length > 0)
        {
            _cache.BodyPool.Return(body);
        }
    }

    private static byte[] WithLength(ReadOnlySpan<byte> head, long length)
    {
        Span<byte> line = stackalloc byte[40];
        "Content-Length: "u8.CopyTo(line);
        length.TryFormat(line[16..], out int digits);
        "\r\n"u8.CopyTo(line[(16 + digits)..]);
        int lineLength = 16 + digits + 2;
        byte[] result = new byte[head.Length + lineLength];
        head.CopyTo(result);
        line[..lineLength].CopyTo(result.AsSpan(head.Length));
        return result;
    }
}
