namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>dotproxy's round-robin: each query goes to the next available upstream in turn.</summary>
internal sealed class RoundRobinPolicy : ILoadBalancingPolicy
{
    private uint _next;

    /// <inheritdoc/>
    public string Name => "roundRobin";

    /// <inheritdoc/>
    public IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks)
    {
        int count = upstreams.Count;
        uint start = Interlocked.Increment(ref _next);
        for (int i = 0; i < count; i++)
        {
            IBalancedUpstream candidate = upstreams[(int)((start + (uint)i) % (uint)count)];
            if (candidate != exclude && candidate.Health.IsAvailable(nowTicks))
            {
                return candidate;
            }
        }

        return null;
    }
}
