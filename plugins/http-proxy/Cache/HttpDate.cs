using System.Globalization;
using System.Text;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// HTTP dates (RFC 9110 §5.6.7) as Unix seconds. IMF-fixdate, the form every current server sends, is
/// parsed by hand without allocating; the obsolete rfc850 and asctime forms go through the BCL.
/// </summary>
internal static class HttpDate
{
    private static readonly string[] s_obsoleteFormats =
    [
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'",   // rfc850-date
        "ddd MMM d HH:mm:ss yyyy",          // asctime-date
        "ddd MMM  d HH:mm:ss yyyy",
    ];

    /// <summary>Parses an HTTP-date; false when it is not one (RFC 9111 §5.3: an invalid Expires means "already expired").</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out long unixSeconds)
    {
        unixSeconds = 0;
        // "Sun, 06 Nov 1994 08:49:37 GMT"
        if (text.Length == 29 && text[3] == (byte)',' && text[4] == (byte)' ' && text[7] == (byte)' ' && text[11] == (byte)' ' &&
            text[16] == (byte)' ' && text[19] == (byte)':' && text[22] == (byte)':' && text[25] == (byte)' ' && text[26..].SequenceEqual("GMT"u8))
        {
            int day = Digits(text.Slice(5, 2)), year = Digits(text.Slice(12, 4));
            int hour = Digits(text.Slice(17, 2)), minute = Digits(text.Slice(20, 2)), second = Digits(text.Slice(23, 2));
            int month = Month(text.Slice(8, 3));
            if (day < 1 || year < 1 || month < 1 || hour is < 0 or > 23 || minute is < 0 or > 59 || second is < 0 or > 60 ||
                day > DateTime.DaysInMonth(year, month))
            {
                return false;
            }

            unixSeconds = new DateTimeOffset(year, month, day, hour, minute, Math.Min(second, 59), TimeSpan.Zero).ToUnixTimeSeconds();
            return true;
        }

        if (text.Length is < 20 or > 40 || !Ascii.IsValid(text))
        {
            return false;
        }

        if (DateTime.TryParseExact(Encoding.ASCII.GetString(text), s_obsoleteFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime parsed))
        {
            unixSeconds = new DateTimeOffset(parsed, TimeSpan.Zero).ToUnixTimeSeconds();
            return true;
        }

        return false;
    }

    private static int Digits(ReadOnlySpan<byte> text)
    {
        int value = 0;
        foreach (byte b in text)
        {
            if ((uint)(b - '0') > 9)
            {
                return -1;
            }

            value = (value * 10) + (b - '0');
        }

        return value;
    }

    private static int Month(ReadOnlySpan<byte> name)
    {
        ReadOnlySpan<byte> months = "JanFebMarAprMayJunJulAugSepOctNovDec"u8;
        for (int i = 0; i < 12; i++)
        {
            if (months.Slice(i * 3, 3).SequenceEqual(name))
            {
                return i + 1;
            }
        }

        return -1;
    }
}
