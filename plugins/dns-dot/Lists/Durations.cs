using System.Globalization;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>Durations as config authors write them: <c>90s</c>, <c>10m</c>, <c>24h</c>, <c>7d</c> (one number, one unit).</summary>
internal static class Durations
{
    /// <summary>Parses <paramref name="text"/>; false for anything else (no unit, a fraction, a negative number, an unknown unit).</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        ReadOnlySpan<char> span = text.AsSpan().Trim();
        if (span.Length < 2 || !long.TryParse(span[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value > 100_000_000)
        {
            return false;
        }

        long seconds = span[^1] switch
        {
            's' => value,
            'm' => value * 60,
            'h' => value * 3600,
            'd' => value * 86400,
            _ => -1,
        };
        if (seconds < 0)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(seconds);
        return true;
    }
}
