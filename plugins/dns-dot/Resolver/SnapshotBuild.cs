using Gateway.Plugins.DnsDot.Upstreams;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>A snapshot built by <see cref="ResolverSnapshotBuilder"/> and what it changes relative to the previous one.</summary>
internal sealed class SnapshotBuild
{
    /// <summary>Creates the result.</summary>
    public SnapshotBuild(ResolverSnapshot snapshot, IReadOnlyList<DnsUpstream> created, IReadOnlyList<DnsUpstream> retired, IReadOnlyList<string> changes)
    {
        Snapshot = snapshot;
        Created = created;
        Retired = retired;
        Changes = changes;
    }

    /// <summary>The new snapshot (not yet in use).</summary>
    public ResolverSnapshot Snapshot { get; }

    /// <summary>Upstreams built new (cold pools: pre-warm them).</summary>
    public IReadOnlyList<DnsUpstream> Created { get; }

    /// <summary>Upstreams of the previous snapshot the new one no longer uses: drain, then close them.</summary>
    public IReadOnlyList<DnsUpstream> Retired { get; }

    /// <summary>What changed, one short phrase each, for the "configuration reloaded" log line; empty when nothing did.</summary>
    public IReadOnlyList<string> Changes { get; }
}
