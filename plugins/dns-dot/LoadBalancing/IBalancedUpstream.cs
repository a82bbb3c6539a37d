namespace Gateway.Plugins.DnsDot.LoadBalancing;

/// <summary>What a load-balancing policy may look at when choosing an upstream.</summary>
internal interface IBalancedUpstream
{
    /// <summary>The upstream's health and exclusion state.</summary>
    UpstreamHealth Health { get; }

    /// <summary>Queries sent and not yet answered.</summary>
    int Outstanding { get; }

    /// <summary>Smoothed answer latency in milliseconds (0 until measured).</summary>
    double LatencyMs { get; }

    /// <summary>Connections opened to this upstream since start.</summary>
    long HistoricalConnections { get; }
}
