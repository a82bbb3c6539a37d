namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>dotproxy's failover: always the first available upstream in configured order.</summary>
internal sealed class FailoverPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc/>
    public string Name => "failover";

    /// <inheritdoc/>
    public IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks)
    {
        for (int i = 0; i < upstreams.Count; i++)
        {
            IBalancedUpstream candidate = upstreams[i];
            if (candidate != exclude && candidate.Health.IsAvailable(nowTicks))
            {
                return candidate;
            }
        }

        return null;
    }
}
