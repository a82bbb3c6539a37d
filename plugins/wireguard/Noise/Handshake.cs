using System.Security.Cryptography;
using Gateway.Plugins.WireGuard.Crypto;

namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>One peer's handshake state (whitepaper §5.4). Guarded by the owning peer's handshake lock.</summary>
internal sealed class Handshake
{
    /// <summary>Creates the state for a peer with <paramref name="remoteStatic"/>.</summary>
    public Handshake(LocalIdentity local, byte[] remoteStatic, byte[]? presharedKey)
    {
        RemoteStatic = remoteStatic;
        PresharedKey = presharedKey ?? new byte[32];
        IsStaticStaticZero = !Curve25519.TryAgree(local.StaticKey, remoteStatic, PrecomputedStaticStatic);
    }

    /// <summary>The current state.</summary>
    public HandshakeState State { get; set; }

    /// <summary>The peer's static public key.</summary>
    public byte[] RemoteStatic { get; }

    /// <summary>The preshared key (32 zero bytes when none is configured).</summary>
    public byte[] PresharedKey { get; set; }

    /// <summary>DH(local static, remote static), computed once.</summary>
    public byte[] PrecomputedStaticStatic { get; } = new byte[32];

    /// <summary>True when the static-static DH is all zero: no handshake can succeed with this peer.</summary>
    public bool IsStaticStaticZero { get; }

    /// <summary>Noise chaining key.</summary>
    public byte[] ChainKey { get; } = new byte[32];

    /// <summary>Noise handshake hash.</summary>
    public byte[] Hash { get; } = new byte[32];

    /// <summary>Our ephemeral private key for this handshake.</summary>
    public byte[]? LocalEphemeralPrivate { get; set; }

    /// <summary>The peer's ephemeral public key.</summary>
    public byte[] RemoteEphemeral { get; set; } = [];

    /// <summary>Our index for this handshake.</summary>
    public uint LocalIndex { get; set; }

    /// <summary>The peer's index.</summary>
    public uint RemoteIndex { get; set; }

    /// <summary>The greatest TAI64N timestamp accepted from this peer (replay protection).</summary>
    public byte[] LatestTimestamp { get; } = new byte[Tai64N.Size];

    /// <summary>When (timestamp ticks) we last accepted an initiation, for the flood limit; 0 = never.</summary>
    public long LastInitiationConsumption { get; set; }

    /// <summary>Wipes the secrets of a finished or abandoned handshake (keeps the timestamp and identities).</summary>
    public void Clear()
    {
        CryptographicOperations.ZeroMemory(ChainKey);
        CryptographicOperations.ZeroMemory(Hash);
        if (LocalEphemeralPrivate is not null)
        {
            CryptographicOperations.ZeroMemory(LocalEphemeralPrivate);
            LocalEphemeralPrivate = null;
        }

        RemoteEphemeral = [];
        State = HandshakeState.Zeroed;
    }
}
