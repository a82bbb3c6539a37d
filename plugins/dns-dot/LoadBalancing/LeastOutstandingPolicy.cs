namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>
/// The default: latency-aware least-outstanding. Scores each available upstream as
/// (outstanding + 1) × smoothed latency and takes the lowest, comparing two random candidates
/// (power of two choices) so that equal upstreams share the load instead of herding.
/// </summary>
internal sealed class LeastOutstandingPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc/>
    public string Name => "leastOutstanding";

    /// <inheritdoc/>
    public IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks)
    {
        int count = upstreams.Count;
        int start = Random.Shared.Next(count);
        IBalancedUpstream? first = null;
        IBalancedUpstream? second = null;
        for (int i = 0; i < count && second is null; i++)
        {
            IBalancedUpstream candidate = upstreams[(start + i) % count];
            if (candidate != exclude && candidate.Health.IsAvailable(nowTicks))
            {
                if (first is null)
                {
                    first = candidate;
                }
                else
                {
                    second = candidate;
                }
            }
        }

        if (second is null)
        {
            return first;
        }

        return Score(second) < Score(first!) ? second : first;
    }

    // Unmeasured upstreams score as 1 ms so they get tried.
    private static double Score(IBalancedUpstream upstream) => (upstream.Outstanding + 1) * Math.Max(upstream.LatencyMs, 1.0);
}
