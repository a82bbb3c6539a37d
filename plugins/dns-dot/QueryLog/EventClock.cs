using System.Diagnostics;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// Turns the Stopwatch timestamps taken on the query path (cheap, monotonic) into wall-clock UTC times for logs,
/// from a (wall clock, Stopwatch) pair refreshed once per batch so clock adjustments are followed.
/// </summary>
internal static class EventClock
{
    private static Anchor s_anchor = new(DateTime.UtcNow.Ticks, Stopwatch.GetTimestamp());

    /// <summary>Takes a fresh pair (the writer thread calls this before each batch).</summary>
    public static void Refresh() => Volatile.Write(ref s_anchor, new Anchor(DateTime.UtcNow.Ticks, Stopwatch.GetTimestamp()));

    /// <summary>The UTC time of <paramref name="timestamp"/>.</summary>
    public static DateTime ToUtc(long timestamp)
    {
        Anchor anchor = Volatile.Read(ref s_anchor);
        double seconds = (double)(timestamp - anchor.Timestamp) / Stopwatch.Frequency;
        return new DateTime(anchor.UtcTicks + (long)(seconds * TimeSpan.TicksPerSecond), DateTimeKind.Utc);
    }

    /// <summary>Milliseconds between two timestamps.</summary>
    public static double Milliseconds(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    private sealed record Anchor(long UtcTicks, long Timestamp);
}
