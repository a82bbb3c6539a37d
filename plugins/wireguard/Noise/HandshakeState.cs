namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>Where a peer's handshake stands.</summary>
internal enum HandshakeState
{
    /// <summary>No handshake in progress.</summary>
    Zeroed,

    /// <summary>We sent an initiation and wait for the response.</summary>
    InitiationCreated,

    /// <summary>We received a valid initiation.</summary>
    InitiationConsumed,

    /// <summary>We answered an initiation (we are the responder).</summary>
    ResponseCreated,

    /// <summary>We received the response to our initiation (we are the initiator).</summary>
    ResponseConsumed,
}
