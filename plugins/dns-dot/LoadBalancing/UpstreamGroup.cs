using Gateway.Plugins.DnsDot.Upstreams;

namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>A named set of upstreams with its policy (the default group is named "default").</summary>
internal sealed class UpstreamGroup
{
    private static int s_nextCacheId;
    private readonly IBalancedUpstream[] _balanced;

    /// <summary>Creates the group.</summary>
    public UpstreamGroup(string name, ILoadBalancingPolicy policy, IReadOnlyList<DnsUpstream> upstreams)
        : this(name, policy, upstreams, Interlocked.Increment(ref s_nextCacheId))
    {
    }

    /// <summary>
    /// Creates the group with the cache id of the group it replaces: a reload that changes only the policy
    /// asks the same upstreams, so their cached answers stay valid.
    /// </summary>
    public UpstreamGroup(string name, ILoadBalancingPolicy policy, IReadOnlyList<DnsUpstream> upstreams, int cacheId)
    {
        CacheId = cacheId;
        Name = name;
        Policy = policy;
        Upstreams = upstreams;
        _balanced = new IBalancedUpstream[upstreams.Count];
        for (int i = 0; i < _balanced.Length; i++)
        {
            _balanced[i] = upstreams[i];
        }
    }

    /// <summary>
    /// Part of every cache key: answers from this group are never served for questions sent to another one
    /// (a rule's <c>Forward(group:)</c> and the default differ), nor to a group rebuilt by a reload.
    /// </summary>
    public int CacheId { get; }

    /// <summary>The group's name.</summary>
    public string Name { get; }

    /// <summary>How an upstream is chosen.</summary>
    public ILoadBalancingPolicy Policy { get; }

    /// <summary>The upstreams in configured order.</summary>
    public IReadOnlyList<DnsUpstream> Upstreams { get; }

    /// <summary>
    /// Chooses an upstream other than <paramref name="exclude"/>. When the policy finds none available, any
    /// other upstream is tried anyway (a lazy probe) rather than failing without asking; with a single
    /// upstream the retry goes to it again.
    /// </summary>
    public DnsUpstream? Pick(DnsUpstream? exclude, long now)
    {
        if (_balanced.Length == 0)
        {
            return null;
        }

        if (Policy.Pick(_balanced, exclude, now) is DnsUpstream chosen)
        {
            return chosen;
        }

        DnsUpstream? fallback = null;
        foreach (DnsUpstream upstream in Upstreams)
        {
            if (upstream != exclude && (fallback is null || upstream.Health.ConsecutiveFailures < fallback.Health.ConsecutiveFailures))
            {
                fallback = upstream;
            }
        }

        return fallback ?? exclude;
    }
}
