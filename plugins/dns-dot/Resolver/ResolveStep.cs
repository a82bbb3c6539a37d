namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>What the synchronous part of resolution decided.</summary>
internal enum ResolveStep
{
    /// <summary>The answer is written (error, local answer, cache hit).</summary>
    Answered,

    /// <summary>Send nothing back.</summary>
    Drop,

    /// <summary>An upstream must be asked: call <see cref="DnsResolver.ResolveUpstreamAsync"/>.</summary>
    Upstream,
}
