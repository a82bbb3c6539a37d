using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// The Cache-Control directives of one message (RFC 9111 §5.2), request or response. Several field lines
/// accumulate; for a repeated numeric directive the first occurrence is used (RFC 9111 §4.2.1).
/// </summary>
internal struct CacheDirectives
{
    /// <summary>delta-seconds above this are capped to it (RFC 9111 §1.2.2).</summary>
    public const int MaxDeltaSeconds = int.MaxValue;

    /// <summary>A Cache-Control field was present.</summary>
    public bool Present;

    public bool NoStore;

    /// <summary>no-cache, qualified or not (a qualified no-cache is treated as unqualified, which RFC 9111 §5.2.2.4 allows).</summary>
    public bool NoCache;

    /// <summary>private, qualified or not (treated as unqualified: a shared cache then does not store, RFC 9111 §5.2.2.7).</summary>
    public bool Private;

    public bool Public;

    public bool MustRevalidate;

    public bool ProxyRevalidate;

    public bool OnlyIfCached;

    /// <summary>max-age in seconds, or -1 when absent.</summary>
    public int MaxAge;

    /// <summary>s-maxage in seconds, or -1 when absent.</summary>
    public int SharedMaxAge;

    /// <summary>max-stale in seconds (<see cref="MaxDeltaSeconds"/> without a value), or -1 when absent.</summary>
    public int MaxStale;

    /// <summary>min-fresh in seconds, or -1 when absent.</summary>
    public int MinFresh;

    public static CacheDirectives Empty => new() { MaxAge = -1, SharedMaxAge = -1, MaxStale = -1, MinFresh = -1 };

    /// <summary>Adds the directives of one Cache-Control field line.</summary>
    public void Add(ReadOnlySpan<byte> value)
    {
        Present = true;
        foreach (Range range in new TokenEnumerator(value))
        {
            ReadOnlySpan<byte> directive = value[range];
            int equals = directive.IndexOf((byte)'=');
            ReadOnlySpan<byte> name = (equals < 0 ? directive : directive[..equals]).TrimEnd(" \t"u8);
            ReadOnlySpan<byte> argument = equals < 0 ? default : directive[(equals + 1)..].Trim(" \t"u8);
            switch (name.Length)
            {
                case 6 when Ascii.EqualsIgnoreCase(name, "public"u8):
                    Public = true;
                    break;
                case 7 when Ascii.EqualsIgnoreCase(name, "max-age"u8):
                    SetFirst(ref MaxAge, argument, invalid: 0);
                    break;
                case 7 when Ascii.EqualsIgnoreCase(name, "private"u8):
                    Private = true;
                    break;
                case 8 when Ascii.EqualsIgnoreCase(name, "no-store"u8):
                    NoStore = true;
                    break;
                case 8 when Ascii.EqualsIgnoreCase(name, "no-cache"u8):
                    NoCache = true;
                    break;
                case 8 when Ascii.EqualsIgnoreCase(name, "s-maxage"u8):
                    SetFirst(ref SharedMaxAge, argument, invalid: 0);
                    break;
                case 9 when Ascii.EqualsIgnoreCase(name, "max-stale"u8):
                    SetFirst(ref MaxStale, argument.IsEmpty ? "2147483647"u8 : argument, invalid: -1);
                    break;
                case 9 when Ascii.EqualsIgnoreCase(name, "min-fresh"u8):
                    SetFirst(ref MinFresh, argument, invalid: -1);
                    break;
                case 14 when Ascii.EqualsIgnoreCase(name, "only-if-cached"u8):
                    OnlyIfCached = true;
                    break;
                case 15 when Ascii.EqualsIgnoreCase(name, "must-revalidate"u8):
                    MustRevalidate = true;
                    break;
                case 16 when Ascii.EqualsIgnoreCase(name, "proxy-revalidate"u8):
                    ProxyRevalidate = true;
                    break;
            }
        }
    }

    /// <summary>Parses delta-seconds (RFC 9111 §1.2.2), tolerating the quoted form; -1 when not a number.</summary>
    public static int ParseDeltaSeconds(ReadOnlySpan<byte> text)
    {
        if (text.Length >= 2 && text[0] == (byte)'"' && text[^1] == (byte)'"')
        {
            text = text[1..^1];
        }

        if (text.IsEmpty || text.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
        {
            return -1;
        }

        long value = 0;
        foreach (byte b in text)
        {
            value = (value * 10) + (b - '0');
            if (value >= MaxDeltaSeconds)
            {
                return MaxDeltaSeconds;
            }
        }

        return (int)value;
    }

    private static void SetFirst(ref int field, ReadOnlySpan<byte> argument, int invalid)
    {
        if (field >= 0)
        {
            return;
        }

        int value = ParseDeltaSeconds(argument);
        // RFC 9111 §4.2.1: an invalid freshness directive makes the response stale (max-age=0).
        field = value < 0 ? invalid : value;
    }
}
