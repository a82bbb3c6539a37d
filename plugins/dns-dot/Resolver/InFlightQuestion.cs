using Gateway.Plugins.DnsDot.Cache;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>A question being asked upstream; identical questions wait for it instead of asking again.</summary>
internal sealed class InFlightQuestion
{
    /// <summary>Completed with the answer as a cache entry (also when caching is off), or null on failure.</summary>
    public TaskCompletionSource<CacheEntry?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many queries wait for it (guarded by the resolver's lock).</summary>
    public int Followers;
}
