namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>The policies by config name.</summary>
internal static class LoadBalancingPolicies
{
    /// <summary>The names accepted by the <c>policy</c> keys.</summary>
    public static readonly string[] Names = ["leastOutstanding", "roundRobin", "random", "historicalConnections", "availability", "failover"];

    /// <summary>Creates the policy called <paramref name="name"/> (case-insensitive), or null for an unknown name.</summary>
    public static ILoadBalancingPolicy? Create(string? name) => name?.ToLowerInvariant() switch
    {
        null or "" or "leastoutstanding" => new LeastOutstandingPolicy(),
        "roundrobin" => new RoundRobinPolicy(),
        "random" => new RandomPolicy(),
        "historicalconnections" => new HistoricalConnectionsPolicy(),
        "availability" => new AvailabilityPolicy(),
        "failover" => new FailoverPolicy(),
        _ => null,
    };
}
