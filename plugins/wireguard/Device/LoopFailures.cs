using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// Unexpected exceptions met by the plugin's dedicated loops (the UDP receive threads, the timer tick): each is
/// counted (metric <c>wireguard.loop_failures</c>) and the loop goes on with the next batch, as a router keeps
/// routing when one packet trips a bug (issue 13, "threads that die"). Logging is rate-limited to one report per
/// <see cref="LogInterval"/> per loop kind, saying how many were not logged since, so a packet that triggers the
/// bug at line rate cannot flood the log either.
/// </summary>
internal sealed class LoopFailures
{
    /// <summary>At most one log entry per loop kind in this interval.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (long LastLogged, long Suppressed)> _byLoop = new();
    private long _count;

    /// <summary>Reports to <paramref name="logger"/>.</summary>
    public LoopFailures(ILogger logger) => _logger = logger;

    /// <summary>Failures so far, all loops.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Counts <paramref name="exception"/> from <paramref name="loop"/> and logs it unless one was logged recently.</summary>
    public void Report(string loop, Exception exception)
    {
        Interlocked.Increment(ref _count);
        long now = Environment.TickCount64;
        long suppressed;
        lock (_lock)
        {
            _byLoop.TryGetValue(loop, out (long LastLogged, long Suppressed) state);
            if (state.LastLogged != 0 && now - state.LastLogged < (long)LogInterval.TotalMilliseconds)
            {
                _byLoop[loop] = (state.LastLogged, state.Suppressed + 1);
                return;
            }

            suppressed = state.Suppressed;
            _byLoop[loop] = (now, 0);
        }

        if (suppressed == 0)
        {
            WireGuardLog.LoopFailed(_logger, loop, exception);
        }
        else
        {
            WireGuardLog.LoopFailedAgain(_logger, loop, suppressed, LogInterval.TotalSeconds, exception);
        }
    }
}
