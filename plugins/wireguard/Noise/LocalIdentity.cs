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
        StaticKey = Curve25519.ImportPrivateKey(PrivateKey);
        CookieAead = XChaCha20Poly1305.ImportKey(CookieKey);
    }

    /// <summary>The private key imported once into libsodium (every DH with our static key uses it).</summary>
    public NSec.Cryptography.Key StaticKey { get; }

    /// <summary><see cref="CookieKey"/> imported once for XChaCha20-Poly1305 (cookie replies).</summary>
    public NSec.Cryptography.Key CookieAead { get; }

    /// <summary>The private key.</summary>
    public byte[] PrivateKey { get; }

    /// <summary>The public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>HASH(LABEL_MAC1 || our public): the key of mac1 on messages sent to us.</summary>
    public byte[] Mac1Key { get; }

    /// <summary>HASH(LABEL_COOKIE || our public): encrypts cookie replies we send.</summary>
    public byte[] CookieKey { get; }
}
