namespace Gateway.Host.Nat;

/// <summary>The TCP states the NAT tracks, only to choose an expiry (RFC 5382 §5): no TCP state machine.</summary>
internal enum NatState
{
    /// <summary>SYN seen, session not yet confirmed by both sides.</summary>
    Opening,

    /// <summary>Traffic seen in both directions.</summary>
    Established,

    /// <summary>A FIN seen in one direction.</summary>
    HalfClosed,

    /// <summary>FINs seen in both directions, or a RST.</summary>
    Closed,
}
