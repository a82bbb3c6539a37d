namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>What a request that missed does about other requests fetching the same URL (<see cref="HttpCache.Join"/>).</summary>
internal enum CollapseRole : byte
{
    /// <summary>Goes to the origin on its own (nobody is fetching the URL and it may not lead a fetch).</summary>
    Alone,

    /// <summary>Fetches the URL for the requests that miss it meanwhile.</summary>
    Leader,

    /// <summary>Waits for the request already fetching the URL.</summary>
    Waiter,

    /// <summary>A response for the URL was stored since the request looked: look again.</summary>
    Stored,
}
