using System.Diagnostics;

namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>
/// Passive health with exponential back-off: each consecutive failure excludes the upstream for twice as
/// long (dotproxy's availability policy), up to a cap. When the exclusion ends, the next query is a lazy
/// probe: success restores the upstream, failure doubles the exclusion.
/// </summary>
internal sealed class UpstreamHealth
{
    private readonly long _baseTicks;
    private readonly long _maxTicks;
    private int _failures;
    private long _excludedUntil;

    /// <summary>Creates health tracking with the given first and longest exclusion.</summary>
    public UpstreamHealth(TimeSpan baseExclusion, TimeSpan maxExclusion)
    {
        _baseTicks = (long)(baseExclusion.TotalSeconds * Stopwatch.Frequency);
        _maxTicks = (long)(maxExclusion.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Consecutive failures so far.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _failures);

    /// <summary>True when the upstream may be used at <paramref name="nowTicks"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public bool IsAvailable(long nowTicks) => nowTicks >= Volatile.Read(ref _excludedUntil);

    /// <summary>True when the upstream has failed and is not yet known good again.</summary>
    public bool IsDegraded => Volatile.Read(ref _failures) > 0;

    /// <summary>Records an answer.</summary>
    public void ReportSuccess()
    {
        if (Volatile.Read(ref _failures) != 0)
        {
            Volatile.Write(ref _failures, 0);
            Volatile.Write(ref _excludedUntil, 0);
        }
    }

    /// <summary>Records a failure (connect, handshake, timeout) and extends the exclusion exponentially.</summary>
    public void ReportFailure(long nowTicks)
    {
        int failures = Interlocked.Increment(ref _failures);
        long exclusion = _baseTicks << Math.Min(failures - 1, 20);
        if (exclusion > _maxTicks || exclusion <= 0)
        {
            exclusion = _maxTicks;
        }

        Volatile.Write(ref _excludedUntil, nowTicks + exclusion);
    }
}
