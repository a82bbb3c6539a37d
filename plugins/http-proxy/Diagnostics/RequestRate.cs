namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>
/// Requests per second over the last minute: 60 one-second buckets, each reset when a new second first lands in it.
/// Counting is two interlocked operations; a bucket reset racing a count may lose that one count (a statistic, not
/// a total).
/// </summary>
internal sealed class RequestRate
{
    private const int Seconds = 60;
    private readonly long[] _second = new long[Seconds];
    private readonly long[] _count = new long[Seconds];

    public void Count()
    {
        long now = Environment.TickCount64 / 1000;
        int slot = (int)(now % Seconds);
        long was = Volatile.Read(ref _second[slot]);
        if (was != now && Interlocked.CompareExchange(ref _second[slot], now, was) == was)
        {
            Interlocked.Exchange(ref _count[slot], 0);
        }

        Interlocked.Increment(ref _count[slot]);
    }

    /// <summary>Requests in the last 60 whole seconds, divided by 60.</summary>
    public double PerSecond()
    {
        long now = Environment.TickCount64 / 1000;
        long total = 0;
        for (int i = 0; i < Seconds; i++)
        {
            long second = Volatile.Read(ref _second[i]);
            if (second > now - Seconds && second <= now)
            {
                total += Volatile.Read(ref _count[i]);
            }
        }

        return Math.Round(total / (double)Seconds, 3);
    }
}
