using Gateway.Plugins.WireGuard.Crypto;

namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>This side's static key pair and the keys derived from its public key.</summary>
internal sealed class LocalIdentity
{
    /// <summary>Creates the identity from a (clamped or not) private key.</summary>
    public LocalIdentity(byte[] privateKey)
    {
        PrivateKey = (byte[])privateKey.Clone();
        Curve25519.Clamp(PrivateKey);
        PublicKey = Curve25519.PublicKey(PrivateKey);
        Mac1Key = NoiseProtocol.LabelKey(NoiseProtocol.LabelMac1, PublicKey);
        CookieKey = NoiseProtocol.LabelKey(NoiseProtocol.LabelCookie, PublicKey);
    }

    /// <summary>The private key.</summary>
    public byte[] PrivateKey { get; }

    /// <summary>The public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>HASH(LABEL_MAC1 || our public): the key of mac1 on messages sent to us.</summary>
    public byte[] Mac1Key { get; }

    /// <summary>HASH(LABEL_COOKIE || our public): encrypts cookie replies we send.</summary>
    public byte[] CookieKey { get; }
}
