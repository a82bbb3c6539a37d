namespace Gateway.Plugins.DnsDot.Security;

/// <summary>
/// Lets one log line through per interval and counts the rest, so a message that a client can cause on every
/// query (refused, rate-limited, a rule that throws) cannot flood the log. Lock-free; allocates nothing.
/// </summary>
internal sealed class LogThrottle
{
    private readonly long _intervalMs;
    private long _nextMs;
    private long _suppressed;

    /// <summary>Creates a throttle letting one line through per <paramref name="interval"/>.</summary>
    public LogThrottle(TimeSpan interval) => _intervalMs = (long)interval.TotalMilliseconds;

    /// <summary>
    /// True when this line may be logged now; <paramref name="suppressed"/> is how many were held back since the
    /// last one that was (to be said in the line).
    /// </summary>
    public bool TryEnter(out long suppressed)
    {
        long now = Environment.TickCount64;
        long next = Interlocked.Read(ref _nextMs);
        if (now < next || Interlocked.CompareExchange(ref _nextMs, now + _intervalMs, next) != next)
        {
            Interlocked.Increment(ref _suppressed);
            suppressed = 0;
            return false;
        }

        suppressed = Interlocked.Exchange(ref _suppressed, 0);
        return true;
    }
}
