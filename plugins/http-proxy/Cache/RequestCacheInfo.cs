using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>What a request head says to a cache (RFC 9111 §4, §5.2.1), read from its fields without allocating.</summary>
internal struct RequestCacheInfo
{
    /// <summary>The method is GET.</summary>
    public bool IsGet;

    /// <summary>The method is HEAD (answered from a stored GET, RFC 9110 §9.3.2).</summary>
    public bool IsHead;

    /// <summary>The method is not safe (RFC 9110 §9.2.1): a non-error response invalidates stored responses (RFC 9111 §4.4).</summary>
    public bool IsUnsafe;

    public CacheDirectives Directives;

    /// <summary>Pragma: no-cache (RFC 9111 §5.4), honoured only when there is no Cache-Control.</summary>
    public bool PragmaNoCache;

    public bool HasAuthorization;

    /// <summary>A Range request: passed through, neither answered from nor stored in the cache.</summary>
    public bool HasRange;

    /// <summary>The client's own precondition (If-*): passed through to the origin.</summary>
    public bool HasPrecondition;

    /// <summary>The request may be answered from a stored response.</summary>
    public readonly bool MayUseStored => (IsGet || IsHead) && !HasRange && !HasPrecondition && !HasAuthorization;

    /// <summary>The client asks for validation with the origin before a stored response is used (no-cache, max-age=0).</summary>
    public readonly bool RequiresValidation => Directives.NoCache || Directives.MaxAge == 0 || (!Directives.Present && PragmaNoCache);

    public static RequestCacheInfo Parse(ReadOnlySpan<byte> head, in RequestHead request, ReadOnlySpan<HeaderField> fields)
    {
        RequestCacheInfo info = default;
        info.Directives = CacheDirectives.Empty;
        ReadOnlySpan<byte> method = request.Method(head);
        info.IsGet = method.SequenceEqual("GET"u8);
        info.IsHead = request.IsHead;
        info.IsUnsafe = !info.IsGet && !info.IsHead && !method.SequenceEqual("OPTIONS"u8) && !method.SequenceEqual("TRACE"u8);
        foreach (ref readonly HeaderField field in fields)
        {
            ReadOnlySpan<byte> name = field.Name(head);
            switch (name.Length)
            {
                case 5 when Ascii.EqualsIgnoreCase(name, "Range"u8):
                    info.HasRange = true;
                    break;
                case 6 when Ascii.EqualsIgnoreCase(name, "Pragma"u8):
                    info.PragmaNoCache |= HasToken(field.Value(head), "no-cache"u8);
                    break;
                case 8 when Ascii.EqualsIgnoreCase(name, "If-Match"u8) || Ascii.EqualsIgnoreCase(name, "If-Range"u8):
                    info.HasPrecondition = true;
                    break;
                case 13 when Ascii.EqualsIgnoreCase(name, "Cache-Control"u8):
                    info.Directives.Add(field.Value(head));
                    break;
                case 13 when Ascii.EqualsIgnoreCase(name, "If-None-Match"u8) || Ascii.EqualsIgnoreCase(name, "Authorization"u8):
                    if (name[0] is (byte)'A' or (byte)'a')
                    {
                        info.HasAuthorization = true;
                    }
                    else
                    {
                        info.HasPrecondition = true;
                    }

                    break;
                case 17 when Ascii.EqualsIgnoreCase(name, "If-Modified-Since"u8):
                case 19 when Ascii.EqualsIgnoreCase(name, "If-Unmodified-Since"u8):
                    info.HasPrecondition = true;
                    break;
            }
        }

        return info;
    }

    private static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (Range range in new TokenEnumerator(value))
        {
            if (Ascii.EqualsIgnoreCase(value[range], token))
            {
                return true;
            }
        }

        return false;
    }
}
