using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>What a response head says to a cache (RFC 9111 §3, §4.2, §5), read from its fields.</summary>
internal struct ResponseCacheInfo
{
    public CacheDirectives Directives;

    /// <summary>Date as Unix seconds, or -1 when absent or invalid.</summary>
    public long Date;

    /// <summary>Expires as Unix seconds (-1 when absent); <see cref="ExpiresInvalid"/> when present but not a date.</summary>
    public long Expires;

    /// <summary>An Expires field that is not a valid date, such as "0": already expired (RFC 9111 §5.3).</summary>
    public bool ExpiresInvalid;

    /// <summary>Last-Modified as Unix seconds, or -1.</summary>
    public long LastModified;

    /// <summary>The Age field in seconds, or 0 (RFC 9111 §5.1).</summary>
    public long Age;

    /// <summary>Index of the ETag field, or -1.</summary>
    public int ETagIndex;

    /// <summary>Index of the Last-Modified field, or -1.</summary>
    public int LastModifiedIndex;

    /// <summary>Index of the first Vary field, or -1.</summary>
    public int VaryIndex;

    /// <summary>Vary: * (RFC 9111 §4.1: never matches, so it is not stored).</summary>
    public bool VaryStar;

    /// <summary>The response sets a cookie (not stored: a cookie for one client must not reach another).</summary>
    public bool HasSetCookie;

    /// <summary>Index of the Location field, or -1 (RFC 9111 §4.4 invalidation).</summary>
    public int LocationIndex;

    /// <summary>Index of the Content-Location field, or -1.</summary>
    public int ContentLocationIndex;

    public readonly bool HasValidator => ETagIndex >= 0 || LastModifiedIndex >= 0;

    public static ResponseCacheInfo Parse(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields)
    {
        ResponseCacheInfo info = new()
        {
            Directives = CacheDirectives.Empty,
            Date = -1,
            Expires = -1,
            LastModified = -1,
            ETagIndex = -1,
            LastModifiedIndex = -1,
            VaryIndex = -1,
            LocationIndex = -1,
            ContentLocationIndex = -1,
        };
        for (int i = 0; i < fields.Length; i++)
        {
            ref readonly HeaderField field = ref fields[i];
            ReadOnlySpan<byte> name = field.Name(head);
            ReadOnlySpan<byte> value = field.Value(head);
            switch (name.Length)
            {
                case 3 when Ascii.EqualsIgnoreCase(name, "Age"u8):
                    int age = CacheDirectives.ParseDeltaSeconds(value);
                    info.Age = Math.Max(info.Age, age);
                    break;
                case 4 when Ascii.EqualsIgnoreCase(name, "Date"u8):
                    if (info.Date < 0 && HttpDate.TryParse(value, out long date))
                    {
                        info.Date = date;
                    }

                    break;
                case 4 when Ascii.EqualsIgnoreCase(name, "ETag"u8):
                    info.ETagIndex = info.ETagIndex < 0 ? i : info.ETagIndex;
                    break;
                case 4 when Ascii.EqualsIgnoreCase(name, "Vary"u8):
                    info.VaryIndex = info.VaryIndex < 0 ? i : info.VaryIndex;
                    foreach (Range token in new TokenEnumerator(value))
                    {
                        info.VaryStar |= value[token].SequenceEqual("*"u8);
                    }

                    break;
                case 7 when Ascii.EqualsIgnoreCase(name, "Expires"u8):
                    if (info.Expires < 0 && !info.ExpiresInvalid)
                    {
                        info.ExpiresInvalid = !HttpDate.TryParse(value, out info.Expires);
                        if (info.ExpiresInvalid)
                        {
                            info.Expires = -1;
                        }
                    }

                    break;
                case 8 when Ascii.EqualsIgnoreCase(name, "Location"u8):
                    info.LocationIndex = i;
                    break;
                case 10 when Ascii.EqualsIgnoreCase(name, "Set-Cookie"u8):
                    info.HasSetCookie = true;
                    break;
                case 13 when Ascii.EqualsIgnoreCase(name, "Cache-Control"u8):
                    info.Directives.Add(value);
                    break;
                case 13 when Ascii.EqualsIgnoreCase(name, "Last-Modified"u8):
                    if (info.LastModifiedIndex < 0)
                    {
                        info.LastModifiedIndex = i;
                        info.LastModified = HttpDate.TryParse(value, out long modified) ? modified : -1;
                    }

                    break;
                case 16 when Ascii.EqualsIgnoreCase(name, "Content-Location"u8):
                    info.ContentLocationIndex = i;
                    break;
            }
        }

        return info;
    }
}
