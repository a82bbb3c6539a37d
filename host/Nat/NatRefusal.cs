namespace Gateway.Host.Nat;

/// <summary>Why <see cref="NatTable.Create"/> made no session.</summary>
internal enum NatRefusal
{
    /// <summary>A session was made.</summary>
    None,

    /// <summary>The source holds <see cref="NatLimits.MaxPerSource"/> live sessions, none of them half-open.</summary>
    SourceLimit,

    /// <summary>Every port (or <see cref="NatLimits.MaxSessions"/>) of the family is held by live sessions, none of them half-open.</summary>
    Exhausted,
}
