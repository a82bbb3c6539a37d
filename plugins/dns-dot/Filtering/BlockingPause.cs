using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>
/// "Pause blocking for N minutes" (the admin API's <c>POST blocking/pause</c>), for every client or for one
/// <c>clients:</c> group. Kept for the plugin's lifetime (a configuration reload does not cancel a pause); a pause
/// ends by itself: the query path compares the deadline with the clock, nothing has to fire. The state is an
/// immutable object swapped whole; queries read it only when they would block.
/// </summary>
internal sealed class BlockingPause
{
    private readonly Func<DateTimeOffset> _clock;
    private readonly ILogger _logger;
    private State _state = new(DateTimeOffset.MinValue, new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal));

    public BlockingPause(ILogger logger, Func<DateTimeOffset>? clock = null)
    {
        _logger = logger;
        _clock = clock ?? (static () => DateTimeOffset.UtcNow);
    }

    /// <summary>Now, as the pause sees it (tests give their own clock).</summary>
    public DateTimeOffset Now => _clock();

    /// <summary>True while blocking is paused for clients of <paramref name="group"/> (null: clients in no group).</summary>
    public bool IsPaused(string? group)
    {
        State state = Volatile.Read(ref _state);
        if (state.AllUntil == DateTimeOffset.MinValue && state.Groups.Count == 0)
        {
            return false;
        }

        DateTimeOffset now = _clock();
        return state.AllUntil > now || (group is not null && state.Groups.TryGetValue(group, out DateTimeOffset until) && until > now);
    }

    /// <summary>When the pause for every client ends, or null when there is none now.</summary>
    public DateTimeOffset? PausedUntil
    {
        get
        {
            DateTimeOffset until = Volatile.Read(ref _state).AllUntil;
            return until > _clock() ? until : null;
        }
    }

    /// <summary>The groups paused now, with their deadlines.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> PausedGroups
    {
        get
        {
            DateTimeOffset now = _clock();
            var result = new SortedDictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            foreach ((string group, DateTimeOffset until) in Volatile.Read(ref _state).Groups)
            {
                if (until > now)
                {
                    result[group] = until;
                }
            }

            return result;
        }
    }

    /// <summary>Pauses for <paramref name="duration"/> (zero resumes now) for <paramref name="group"/> or everyone; returns the deadline.</summary>
    public DateTimeOffset Pause(TimeSpan duration, string? group)
    {
        lock (_logger)
        {
            DateTimeOffset now = _clock();
            DateTimeOffset until = duration > TimeSpan.Zero ? now + duration : now;
            State state = Volatile.Read(ref _state);
            var groups = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            foreach ((string name, DateTimeOffset deadline) in state.Groups)
            {
                if (deadline > now)
                {
                    groups[name] = deadline;
                }
            }

            DateTimeOffset all = state.AllUntil > now ? state.AllUntil : DateTimeOffset.MinValue;
            if (group is null)
            {
                all = duration > TimeSpan.Zero ? until : DateTimeOffset.MinValue;
            }
            else if (duration > TimeSpan.Zero)
            {
                groups[group] = until;
            }
            else
            {
                groups.Remove(group);
            }

            Volatile.Write(ref _state, new State(all, groups));
            string scope = group is null ? "every client" : $"clients group {group}";
            if (duration > TimeSpan.Zero)
            {
                FilteringLog.BlockingPaused(_logger, until.ToString("u", CultureInfo.InvariantCulture), scope);
            }
            else
            {
                FilteringLog.BlockingResumed(_logger, scope);
            }

            return until;
        }
    }

    private sealed record State(DateTimeOffset AllUntil, Dictionary<string, DateTimeOffset> Groups);
}
