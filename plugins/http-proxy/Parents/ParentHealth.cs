namespace Gateway.Plugins.HttpProxy.Parents;

/// <summary>
/// Whether a parent proxy is up: one that refused or timed out a connection is skipped for a back-off that starts at
/// <see cref="FirstBackOff"/> and doubles with each failed retry up to <see cref="MaxBackOff"/>; the first request after
/// the back-off tries it again, and a connection that succeeds clears it (squid's peer "DEAD"/"revived" cycle, without
/// its probe connections). Shared by every generation of rules, so a reload does not revive a dead parent.
/// </summary>
internal sealed class ParentHealth
{
    /// <summary>How long a parent is skipped after its first failure.</summary>
    public static readonly TimeSpan FirstBackOff = TimeSpan.FromSeconds(10);

    /// <summary>The longest back-off, reached after five failures in a row.</summary>
    public static readonly TimeSpan MaxBackOff = TimeSpan.FromMinutes(5);

    private readonly Func<long> _clock;
    private readonly Lock _lock = new();
    private long _downUntil;
    private long _backOffMs;

    /// <param name="clock">Milliseconds of a monotonic clock; <see cref="Environment.TickCount64"/> when null (tests pass their own).</param>
    public ParentHealth(Func<long>? clock = null)
    {
        _clock = clock ?? (static () => Environment.TickCount64);
    }

    /// <summary>False while the parent is in its back-off.</summary>
    public bool IsLive => _clock() >= Volatile.Read(ref _downUntil);

    /// <summary>
    /// A connection to the parent failed: it is skipped for the next back-off, which is returned. Failures of requests
    /// that were already under way when it went down count once: the back-off grows only when a retry fails.
    /// </summary>
    public TimeSpan Failed()
    {
        lock (_lock)
        {
            long now = _clock();
            if (now < _downUntil)
            {
                return TimeSpan.FromMilliseconds(_backOffMs);
            }

            _backOffMs = _backOffMs == 0 ? (long)FirstBackOff.TotalMilliseconds : Math.Min(_backOffMs * 2, (long)MaxBackOff.TotalMilliseconds);
            Volatile.Write(ref _downUntil, now + _backOffMs);
            return TimeSpan.FromMilliseconds(_backOffMs);
        }
    }

    /// <summary>A connection to the parent succeeded; true when that ends a down period (worth a log line).</summary>
    public bool Succeeded()
    {
        if (Volatile.Read(ref _backOffMs) == 0)
        {
            return false;
        }

        lock (_lock)
        {
            bool wasDown = _backOffMs != 0;
            _backOffMs = 0;
            _downUntil = 0;
            return wasDown;
        }
    }
}
