using Gateway.Plugins.DnsDot.Resolver;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// A tls:// (DoT, RFC 7858/8310) or tcp:// (RFC 7766) upstream: a pool of pipelined connections, verified by
/// <see cref="Verifier"/> when it is TLS, to a fixed address or a host name re-resolved on its TTL.
/// </summary>
internal sealed class StreamUpstream : DnsUpstream
{
    /// <summary>Creates the upstream; nothing connects until <see cref="Maintain"/> or a query.</summary>
    /// <param name="name">The address as configured.</param>
    /// <param name="endpoint">Where to connect.</param>
    /// <param name="verifier">TLS identity checks and client options; null for plain TCP.</param>
    /// <param name="settings">Timeouts and limits.</param>
    /// <param name="metrics">The plugin's instruments.</param>
    /// <param name="logger">The plugin's logger.</param>
    public StreamUpstream(string name, UpstreamEndpoint endpoint, DotTlsVerifier? verifier, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
        : base(name, endpoint, settings, metrics, logger)
    {
        Verifier = verifier;
        Pool = new UpstreamConnectionPool(this, endpoint, verifier, settings);
    }

    /// <inheritdoc/>
    public override string Protocol => Verifier is null ? "tcp" : "tls";


    /// <summary>TLS identity checks and client options; null for plain TCP.</summary>
    public DotTlsVerifier? Verifier { get; }

    /// <summary>The connections.</summary>
    public UpstreamConnectionPool Pool { get; }

    /// <inheritdoc/>
    public override int OpenConnections => Pool.Count;

    /// <inheritdoc/>
    public override bool IsClosed => Pool.IsClosed;

    /// <inheritdoc/>
    public override void Sweep(long now) => Pool.Sweep(now);

    /// <inheritdoc/>
    public override void Maintain(CancellationToken cancellationToken)
    {
        Endpoint.Refresh(this, Logger, cancellationToken);
        Pool.Maintain(cancellationToken);
    }

    /// <inheritdoc/>
    public override void Close(string reason = "stopping") => Pool.CloseAll(reason);

    /// <inheritdoc/>
    protected override void Dispatch(UpstreamQuery query, bool freshConnection) => Pool.Dispatch(query, freshConnection);

    /// <inheritdoc/>
    protected override void AfterFailure() => Pool.OnSlotFreed();
}
