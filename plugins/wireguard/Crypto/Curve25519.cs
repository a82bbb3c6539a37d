using System.Security.Cryptography;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>X25519 (RFC 7748) from BouncyCastle, with WireGuard's rule that an all-zero shared secret is an error.</summary>
internal static class Curve25519
{
    /// <summary>Key size in bytes.</summary>
    public const int KeySize = 32;

    /// <summary>A new private key, clamped as RFC 7748 §5 describes.</summary>
    public static byte[] GeneratePrivateKey()
    {
        byte[] key = RandomNumberGenerator.GetBytes(KeySize);
        Clamp(key);
        return key;
    }

    /// <summary>Clamps a private key in place (what `wg genkey` does).</summary>
    public static void Clamp(Span<byte> key)
    {
        key[0] &= 248;
        key[31] = (byte)((key[31] & 127) | 64);
    }

    /// <summary>The public key of <paramref name="privateKey"/>.</summary>
    public static byte[] PublicKey(ReadOnlySpan<byte> privateKey)
    {
        byte[] result = new byte[KeySize];
        X25519.ScalarMultBase(privateKey.ToArray(), 0, result, 0);
        return result;
    }

    /// <summary>
    /// DH(private, public). Returns false when the result is all zero (a low-order point): the whitepaper
    /// requires that such a handshake be rejected.
    /// </summary>
    public static bool TryAgree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> shared)
    {
        byte[] result = new byte[KeySize];
        X25519.ScalarMult(privateKey.ToArray(), 0, publicKey.ToArray(), 0, result, 0);
        result.CopyTo(shared);
        bool zero = CryptographicOperations.FixedTimeEquals(result, new byte[KeySize]);
        CryptographicOperations.ZeroMemory(result);
        return !zero;
    }
}
