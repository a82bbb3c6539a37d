namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>dotproxy's random: a uniformly random available upstream.</summary>
internal sealed class RandomPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc/>
    public string Name => "random";

    /// <inheritdoc/>
    public IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks)
    {
        int count = upstreams.Count;
        int start = Random.Shared.Next(count);
        for (int i = 0; i < count; i++)
        {
            IBalancedUpstream candidate = upstreams[(start + i) % count];
            if (candidate != exclude && candidate.Health.IsAvailable(nowTicks))
            {
                return candidate;
            }
        }

        return null;
    }
}
