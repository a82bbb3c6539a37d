namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>How a request's wait for another request's fetch of the same URL ended (<see cref="CollapsedFetch"/>).</summary>
internal enum CollapseOutcome : byte
{
    /// <summary>The response is stored: look it up again (it answers unless its Vary or the client's policy say otherwise).</summary>
    Stored,

    /// <summary>The leader's response could not be stored (or its fetch failed): go to the origin alone, now.</summary>
    Released,

    /// <summary>The leader took longer than <c>cache.collapsedWaitMs</c>: go to the origin alone.</summary>
    TimedOut,
}
