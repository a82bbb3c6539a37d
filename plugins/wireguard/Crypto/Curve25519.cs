using System.Security.Cryptography;
using NSec.Cryptography;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// X25519 (RFC 7748) from NSec.Cryptography (libsodium), with WireGuard's rule that an all-zero shared secret is an
/// error. Chosen over BouncyCastle by BenchmarkDotNet (issue 19, BENCHMARKS.md "WireGuard crypto primitives"): a DH
/// with the key imported for the call, as for an ephemeral key, costs 0.8× BouncyCastle's CPU time, and 0.5× with
/// the key imported once (<see cref="ImportPrivateKey"/>, which <c>LocalIdentity</c> does for the static key).
/// </summary>
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

    /// <summary>Imports <paramref name="privateKey"/> once for many <see cref="TryAgree(Key, ReadOnlySpan{byte}, Span{byte})"/> calls.</summary>
    public static Key ImportPrivateKey(ReadOnlySpan<byte> privateKey) =>
        Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey);

    /// <summary>The public key of <paramref name="privateKey"/>.</summary>
    public static byte[] PublicKey(ReadOnlySpan<byte> privateKey)
    {
        using Key key = ImportPrivateKey(privateKey);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    /// <summary>
    /// DH(private, public). Returns false when the result is all zero (a low-order point): the whitepaper
    /// requires that such a handshake be rejected (libsodium refuses it too).
    /// </summary>
    public static bool TryAgree(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> publicKey, Span<byte> shared)
    {
        using Key key = ImportPrivateKey(privateKey);
        return TryAgree(key, publicKey, shared);
    }

    /// <summary>DH(private, public) with an imported private key; false for an all-zero result.</summary>
    public static bool TryAgree(Key privateKey, ReadOnlySpan<byte> publicKey, Span<byte> shared)
    {
        if (!NSec.Cryptography.PublicKey.TryImport(KeyAgreementAlgorithm.X25519, publicKey, KeyBlobFormat.RawPublicKey, out NSec.Cryptography.PublicKey? peer) || peer is null)
        {
            shared[..KeySize].Clear();
            return false;
        }

        using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(privateKey, peer, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        if (secret is null || !secret.TryExport(SharedSecretBlobFormat.RawSharedSecret, shared, out int written) || written != KeySize)
        {
            shared[..KeySize].Clear();
            return false;
        }

        // libsodium already refuses an all-zero result; the check stays so the rule does not depend on it.
        return shared[..KeySize].IndexOfAnyExcept((byte)0) >= 0;
    }
}
