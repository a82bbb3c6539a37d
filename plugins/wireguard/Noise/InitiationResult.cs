namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>What a decrypted handshake initiation says, before it is bound to a peer.</summary>
internal sealed class InitiationResult
{
    /// <summary>The initiator's static public key.</summary>
    public byte[] RemoteStatic { get; init; } = [];

    /// <summary>The initiator's ephemeral public key.</summary>
    public byte[] RemoteEphemeral { get; init; } = [];

    /// <summary>The initiator's sender index.</summary>
    public uint RemoteIndex { get; init; }

    /// <summary>The TAI64N timestamp.</summary>
    public byte[] Timestamp { get; init; } = [];

    /// <summary>The chaining key after the initiation.</summary>
    public byte[] ChainKey { get; init; } = [];

    /// <summary>The handshake hash after the initiation.</summary>
    public byte[] Hash { get; init; } = [];
}
