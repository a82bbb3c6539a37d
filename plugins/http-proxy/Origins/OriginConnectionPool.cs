using System.Collections.Concurrent;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// Idle origin connections keyed by "host:port", at most <c>maxIdlePerOrigin</c> each, closed after
/// <c>idleTimeout</c>. A client connection keeps its origin connection while it asks the same origin,
/// so the pool is only touched when a client switches origins or goes away.
/// </summary>
internal sealed class OriginConnectionPool : IDisposable
{
    private readonly ConcurrentDictionary<string, ConcurrentStack<OriginConnection>> _idle = new(StringComparer.OrdinalIgnoreCase);
    private readonly int _maxIdlePerOrigin;
    private readonly long _idleTimeoutMs;
    private readonly Timer _sweeper;
    private bool _disposed;

    public OriginConnectionPool(int maxIdlePerOrigin, TimeSpan idleTimeout)
    {
        _maxIdlePerOrigin = maxIdlePerOrigin;
        _idleTimeoutMs = (long)idleTimeout.TotalMilliseconds;
        TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(_idleTimeoutMs / 2, 500, 30_000));
        _sweeper = new Timer(static state => ((OriginConnectionPool)state!).Sweep(), this, period, period);
    }

    /// <summary>Number of idle connections held (all origins).</summary>
    public int IdleCount
    {
        get
        {
            int count = 0;
            foreach (KeyValuePair<string, ConcurrentStack<OriginConnection>> entry in _idle)
            {
                count += entry.Value.Count;
            }

            return count;
        }
    }

    /// <summary>Takes a live idle connection to <paramref name="key"/>, newest first (the least likely to have been closed by the origin).</summary>
    public bool TryTake(string key, out OriginConnection? connection)
    {
        if (_idle.TryGetValue(key, out ConcurrentStack<OriginConnection>? stack))
        {
            long now = Environment.TickCount64;
            while (stack.TryPop(out OriginConnection? candidate))
            {
                if (now - candidate.IdleSince < _idleTimeoutMs && candidate.IsUsable())
                {
                    connection = candidate;
                    return true;
                }

                candidate.Dispose();
            }
        }

        connection = null;
        return false;
    }

    /// <summary>Keeps a connection that finished a response cleanly, or closes it when the origin has enough idle ones.</summary>
    public void Return(OriginConnection connection)
    {
        if (_disposed || _maxIdlePerOrigin == 0)
        {
            connection.Dispose();
            return;
        }

        ConcurrentStack<OriginConnection> stack = _idle.GetOrAdd(connection.Key, static _ => new ConcurrentStack<OriginConnection>());
        if (stack.Count >= _maxIdlePerOrigin)
        {
            connection.Dispose();
            return;
        }

        connection.IdleSince = Environment.TickCount64;
        stack.Push(connection);
    }

    private void Sweep()
    {
        long now = Environment.TickCount64;
        foreach (KeyValuePair<string, ConcurrentStack<OriginConnection>> entry in _idle)
        {
            ConcurrentStack<OriginConnection> stack = entry.Value;
            int count = stack.Count;
            // Pop everything once; keep the fresh and live ones (order within a stack is not important).
            List<OriginConnection>? keep = null;
            for (int i = 0; i < count && stack.TryPop(out OriginConnection? connection); i++)
            {
                if (now - connection.IdleSince < _idleTimeoutMs && connection.IsUsable())
                {
                    (keep ??= []).Add(connection);
                }
                else
                {
                    connection.Dispose();
                }
            }

            if (keep is not null)
            {
                for (int i = keep.Count - 1; i >= 0; i--)
                {
                    stack.Push(keep[i]);
                }
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _sweeper.Dispose();
        foreach (KeyValuePair<string, ConcurrentStack<OriginConnection>> entry in _idle)
        {
            while (entry.Value.TryPop(out OriginConnection? connection))
            {
                connection.Dispose();
            }
        }
    }
}
