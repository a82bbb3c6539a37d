namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>Chooses the upstream for a query; selected by <see cref="Name"/> from the <c>policy</c> key (like YARP's ILoadBalancingPolicy).</summary>
internal interface ILoadBalancingPolicy
{
    /// <summary>The config name ("roundRobin").</summary>
    string Name { get; }

    /// <summary>
    /// Picks an upstream other than <paramref name="exclude"/>, or null when none is available. Must not allocate.
    /// </summary>
    IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks);
}
