namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>
/// dotproxy's availability: a random upstream among those not excluded; a failing upstream is excluded
/// for exponentially longer after each consecutive failure (see <see cref="UpstreamHealth"/>). When every
/// upstream is excluded, the one whose exclusion ends first is tried rather than failing outright.
/// </summary>
internal sealed class AvailabilityPolicy : ILoadBalancingPolicy
{
    /// <inheritdoc/>
    public string Name => "availability";

    /// <inheritdoc/>
    public IBalancedUpstream? Pick(IReadOnlyList<IBalancedUpstream> upstreams, IBalancedUpstream? exclude, long nowTicks)
    {
        int count = upstreams.Count;
        int start = Random.Shared.Next(count);
        IBalancedUpstream? fallback = null;
        for (int i = 0; i < count; i++)
        {
            IBalancedUpstream candidate = upstreams[(start + i) % count];
            if (candidate == exclude)
            {
                continue;
            }

            if (candidate.Health.IsAvailable(nowTicks))
            {
                return candidate;
            }

            if (fallback is null || candidate.Health.ConsecutiveFailures < fallback.Health.ConsecutiveFailures)
            {
                fallback = candidate;
            }
        }

        return fallback;
    }
}
