using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>
/// Bounds the per-request warnings a client can trigger at will (issue #13: a flood of refused requests must not
/// become a flood of log lines): each <see cref="WarningKind"/> may log <see cref="Burst"/> lines per 10 s window;
/// the rest are counted, and the first line of a later window is preceded by one line saying how many were not
/// logged. Kinds are limited separately, so a flood of one kind never hides a different warning (the fault issue
/// #14 found in the host's handler-failure log).
/// </summary>
internal sealed class WarningLimiter
{
    /// <summary>Lines each kind may log per window.</summary>
    public const int Burst = 5;

    private const long WindowMs = 10_000;

    private readonly ILogger _logger;
    private readonly Slot[] _slots;
    private readonly Func<long> _clock;

    public WarningLimiter(ILogger logger, Func<long>? clock = null)
    {
        _logger = logger;
        _clock = clock ?? (static () => Environment.TickCount64);
        _slots = new Slot[Enum.GetValues<WarningKind>().Length];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot();
        }
    }

    /// <summary>
    /// True when a warning of <paramref name="kind"/> may be logged now (log it then); false when it is over the
    /// burst and was counted instead. Logs the count of those not logged in an earlier window first.
    /// </summary>
    public bool ShouldLog(WarningKind kind)
    {
        if (!_logger.IsEnabled(LogLevel.Warning))
        {
            return false;
        }

        Slot slot = _slots[(int)kind];
        long now = _clock();
        long suppressed;
        lock (slot)
        {
            if (now - slot.WindowStart >= WindowMs)
            {
                suppressed = slot.Suppressed;
                slot.Suppressed = 0;
                slot.WindowStart = now;
                slot.Logged = 0;
            }
            else
            {
                suppressed = 0;
            }

            if (slot.Logged >= Burst)
            {
                slot.Suppressed++;
                return false;
            }

            slot.Logged++;
        }

        if (suppressed > 0)
        {
            HttpProxyLog.WarningsSuppressed(_logger, suppressed, Name(kind));
        }

        return true;
    }

    private static string Name(WarningKind kind) => kind switch
    {
        WarningKind.OriginUnreachable => "origin unreachable",
        WarningKind.OriginTimeout => "origin timed out",
        WarningKind.DestinationDenied => "destination denied",
        WarningKind.ClientDenied => "client denied",
        WarningKind.ConnectionLimit => "connection limit",
        WarningKind.AuthenticationFailed => "authentication failed",
        WarningKind.NoParentUp => "no parent proxy up",
        _ => kind.ToString(),
    };

    private sealed class Slot
    {
        public long WindowStart = long.MinValue / 2;
        public int Logged;
        public long Suppressed;
    }
}
