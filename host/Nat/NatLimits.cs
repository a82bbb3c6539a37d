namespace Gateway.Host.Nat;

/// <summary>
/// The bounds of the TCP NAT table (issue 13 "NAT table exhaustion"): one source must not be able to take every NAT
/// port with SYNs it never completes, and a full table must make room by dropping the sessions that cost least.
/// </summary>
/// <param name="MaxSessions">Sessions per address family, closed ones still holding their port included (at most <see cref="PortCount"/>).</param>
/// <param name="MaxPerSource">Live (not closed) sessions one source may hold: an IPv4 address, or an IPv6 /64.</param>
/// <param name="HalfOpenTimeout">How long a session whose handshake the client has not completed keeps its port.</param>
internal sealed record NatLimits(int MaxSessions, int MaxPerSource, TimeSpan HalfOpenTimeout)
{
    /// <summary>NAT ports per address family: 1024–65535.</summary>
    public const int PortCount = 65536 - NatTable.FirstPort;

    /// <summary>Default of <c>host.tun.natMaxPerSource</c> (DESIGN §6).</summary>
    public const int DefaultMaxPerSource = 4096;

    /// <summary>Default of <c>host.tun.natHalfOpenTimeoutSeconds</c>.</summary>
    public const int DefaultHalfOpenTimeoutSeconds = 30;

    /// <summary>The defaults: every port, 4096 per source, 30 s half-open.</summary>
    public static NatLimits Default { get; } = new(PortCount, DefaultMaxPerSource, TimeSpan.FromSeconds(DefaultHalfOpenTimeoutSeconds));
}
