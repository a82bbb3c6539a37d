using System.Collections.Concurrent;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Auth;

/// <summary>
/// Slows down password guessing per client address (what fail2ban does to sshd, inside the proxy): failures are
/// counted per address over a minute; past <c>failuresBeforeDelay</c>, that address's attempts are checked one at a
/// time, each after <c>failureDelayMilliseconds</c>. Opening more connections does not help it, and it costs at most
/// one bcrypt check per delay. A success or a quiet minute clears the count.
/// </summary>
internal sealed class AuthThrottle
{
    // Failures older than this no longer count.
    private static readonly long s_windowMs = 60_000;

    // Past this many tracked addresses, entries without a recent failure are dropped (a scan from many addresses
    // must not grow the table without bound).
    private const int MaxTracked = 10_000;

    private readonly ConcurrentDictionary<NetAddress, Entry> _clients = new();
    private readonly int _freeFailures;
    private readonly TimeSpan _delay;

    public AuthThrottle(int freeFailures, TimeSpan delay)
    {
        _freeFailures = freeFailures;
        _delay = delay;
    }

    /// <summary>
    /// Takes this client's turn for one check: at once while its recent failures plus the checks it has running stay
    /// within the free budget (so a burst of parallel guesses cannot all slip in before the first failure counts),
    /// otherwise one at a time, each after the delay. Dispose the turn after the check.
    /// </summary>
    public async ValueTask<IDisposable> EnterAsync(NetAddress client, CancellationToken cancellationToken)
    {
        if (_clients.Count >= MaxTracked)
        {
            Trim();
        }

        Entry entry = _clients.GetOrAdd(client, static _ => new Entry());
        int running = Interlocked.Increment(ref entry.Running);
        if (entry.RecentFailures + running <= _freeFailures)
        {
            return new Turn(entry, gated: false);
        }

        try
        {
            await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref entry.Running);
            throw;
        }

        try
        {
            await Task.Delay(_delay, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            entry.Gate.Release();
            Interlocked.Decrement(ref entry.Running);
            throw;
        }

        return new Turn(entry, gated: true);
    }

    public void Failed(NetAddress client)
    {
        if (_clients.Count >= MaxTracked)
        {
            Trim();
        }

        Entry entry = _clients.GetOrAdd(client, static _ => new Entry());
        entry.Fail();
    }

    /// <summary>A success clears the client's failures (its entry goes once no check of it runs).</summary>
    public void Succeeded(NetAddress client)
    {
        if (_clients.TryGetValue(client, out Entry? entry))
        {
            entry.Clear();
        }
    }

    /// <summary>True while <paramref name="client"/> is slowed down (for tests and logs).</summary>
    public bool IsSlowed(NetAddress client) => _clients.TryGetValue(client, out Entry? entry) && entry.IsSlowed(_freeFailures);

    private void Trim()
    {
        foreach (KeyValuePair<NetAddress, Entry> pair in _clients)
        {
            if (pair.Value.IsExpired)
            {
                _clients.TryRemove(pair);
            }
        }
    }

    private sealed class Entry
    {
        // Checks of this client running now (taken turns not yet disposed).
        public int Running;
        private int _failures;
        private long _lastFailure;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        public bool IsExpired => Environment.TickCount64 - Volatile.Read(ref _lastFailure) > s_windowMs && Volatile.Read(ref Running) == 0;

        /// <summary>Failures within the window.</summary>
        public int RecentFailures => Environment.TickCount64 - Volatile.Read(ref _lastFailure) > s_windowMs ? 0 : Volatile.Read(ref _failures);

        public bool IsSlowed(int freeFailures) => RecentFailures >= freeFailures;

        public void Clear()
        {
            lock (this)
            {
                _failures = 0;
                _lastFailure = 0;
            }
        }

        public void Fail()
        {
            lock (this)
            {
                if (Environment.TickCount64 - _lastFailure > s_windowMs)
                {
                    _failures = 0;
                }

                _failures++;
                Volatile.Write(ref _lastFailure, Environment.TickCount64);
            }
        }
    }

    private sealed class Turn(Entry entry, bool gated) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.Decrement(ref entry.Running);
            if (gated)
            {
                entry.Gate.Release();
            }
        }
    }
}
