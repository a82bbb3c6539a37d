namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// One origin fetch of a URL that identical concurrent misses wait for instead of asking the origin themselves
/// (squid's collapsed_forwarding). The request that missed first leads: it fetches, stores the response, then
/// finishes the fetch; the requests that missed meanwhile (the waiters, <see cref="HttpCache.Join"/>) look the
/// stored response up again, or go to the origin alone when the leader could not store it.
/// </summary>
/// <remarks>
/// Waiters are answered once the response is stored, not streamed from the fill as it grows: the fill's array
/// is replaced as a chunked body grows and goes back to the pool when the fill is abandoned, and a waiter that had
/// already sent part of a response it then lost could neither finish nor start over at the origin. Waiting for
/// the stored entry makes every outcome clean: a hit with the whole body, or an origin request of its own.
/// A waiter holds only a continuation on <see cref="WaitAsync"/>'s task, so a waiter that gives up (its timeout,
/// its connection ending) leaves nothing behind, and the fetch is finished (unregistered) by its leader on every
/// path: stored, not storable, failed, or the leader's connection gone.
/// </remarks>
internal sealed class CollapsedFetch
{
    private readonly HttpCache _cache;
    private readonly TaskCompletionSource<bool> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _finished;

    public CollapsedFetch(HttpCache cache, string key)
    {
        _cache = cache;
        Key = key;
    }

    /// <summary>The cache key of the URL being fetched.</summary>
    public string Key { get; }

    /// <summary>
    /// Waits for the leader, at most <paramref name="timeout"/>: <see cref="CollapseOutcome.Stored"/> when the
    /// response is stored (look it up again), <see cref="CollapseOutcome.Released"/> when it could not be,
    /// <see cref="CollapseOutcome.TimedOut"/> when the leader took too long. Cancelled with
    /// <paramref name="cancellationToken"/> (the waiter's connection is ending).
    /// </summary>
    public async ValueTask<CollapseOutcome> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task<bool> done = _done.Task;
        if (!done.IsCompleted)
        {
            try
            {
                await done.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return CollapseOutcome.TimedOut;
            }
        }

        return done.Result ? CollapseOutcome.Stored : CollapseOutcome.Released;
    }

    /// <summary>
    /// Ends the fetch (the first call decides; later ones do nothing): it leaves the cache's fetches in flight, so a
    /// later miss leads a fetch of its own, then the waiters are woken. With <paramref name="stored"/> the response
    /// must be in the cache already, so that no request can miss both it and this fetch.
    /// </summary>
    public void Finish(bool stored)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        _cache.EndFetch(this);
        _done.TrySetResult(stored);
    }
}
