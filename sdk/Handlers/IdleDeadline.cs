namespace Gateway.Sdk.Handlers;

/// <summary>
/// A whole-connection idle deadline: <see cref="Token"/> is cancelled once no activity was seen for
/// <see cref="Timeout"/>, whatever the direction. Call <see cref="Touch"/> whenever bytes move either way.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="StreamConnection.Stream"/> times out each read on its own, which cuts a one-way download whose client
/// stays silent; a relay or a protocol with long one-way phases wants this deadline instead (<see cref="Relay.StreamRelay"/>
/// uses it). It is the behaviour of HAProxy's <c>timeout tunnel</c> and nginx's <c>proxy_timeout</c>.
/// </para>
/// <para>
/// <see cref="Touch"/> only stores a timestamp (no allocation, no lock), so it is cheap enough to call for every read
/// and write. One timer per deadline re-arms itself for the remaining time when it fires early. Dispose it when the
/// connection ends.
/// </para>
/// </remarks>
public sealed class IdleDeadline : IDisposable
{
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _expired = new();
    private readonly ITimer? _timer;
    private long _lastActivity;
    private int _disposed;

    /// <summary>Starts the deadline; the time until the first <see cref="Touch"/> counts as idle.</summary>
    /// <param name="timeout">
    /// Idle time allowed; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> (or <see cref="TimeSpan.Zero"/>)
    /// for none, as <see cref="StreamConnection.IdleTimeout"/> gives it when the configured limit is 0.
    /// </param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> when null (tests pass a fake one).</param>
    public IdleDeadline(TimeSpan timeout, TimeProvider? timeProvider = null)
    {
        if (timeout < TimeSpan.Zero && timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "a positive time, or Timeout.InfiniteTimeSpan for none");
        }

        _time = timeProvider ?? TimeProvider.System;
        Timeout = timeout == TimeSpan.Zero ? System.Threading.Timeout.InfiniteTimeSpan : timeout;
        _lastActivity = _time.GetTimestamp();
        if (Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            _timer = _time.CreateTimer(static state => ((IdleDeadline)state!).OnTimer(), this, Timeout, System.Threading.Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The idle time allowed (<see cref="System.Threading.Timeout.InfiniteTimeSpan"/> for none).</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Cancelled when the connection was idle for <see cref="Timeout"/>; never cancelled without a timeout.</summary>
    public CancellationToken Token => _expired.Token;

    /// <summary>True once the deadline passed.</summary>
    public bool IsExpired => _expired.IsCancellationRequested;

    /// <summary>Records activity now: the deadline moves to now + <see cref="Timeout"/>.</summary>
    public void Touch() => Volatile.Write(ref _lastActivity, _time.GetTimestamp());

    /// <summary>Stops the timer. The token stays as it is (cancelled only if the deadline had passed).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _timer?.Dispose();
            _expired.Dispose();
        }
    }

    private void OnTimer()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        TimeSpan idle = _time.GetElapsedTime(Volatile.Read(ref _lastActivity));
        try
        {
            if (idle >= Timeout)
            {
                _expired.Cancel();
            }
            else
            {
                // Activity since the timer was armed: sleep only for what is left, so the deadline is exact
                // without re-arming the timer on every Touch.
                _timer!.Change(Timeout - idle, System.Threading.Timeout.InfiniteTimeSpan);
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check and the call: the connection ended, nothing to do.
        }
    }
}
