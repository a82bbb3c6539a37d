namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>dotproxy's historical_connections: the available upstream that has had the fewest connections so far.</summary>
internal sealed class HistoricalConnectionsPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc/>
    public string Name => "historicalConnections";

    /// <inheritdoc/>
    public IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks)
    {
        IBalancedUpstream? best = null;
        for (int i = 0; i < upstreams.Count; i++)
        {
            IBalancedUpstream candidate = upstreams[i];
            if (candidate != exclude && candidate.Health.IsAvailable(nowTicks) &&
                (best is null || candidate.HistoricalConnections < best.HistoricalConnections))
            {
                best = candidate;
            }
        }

        return best;
    }
}
