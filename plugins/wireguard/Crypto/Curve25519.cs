using System.Security.Cryptography;
using NSec.Cryptography;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// X25519 (RFC 7748), with WireGuard's rule that an all-zero shared secret is an error. Each operation comes from the
/// package that did it in the least CPU time in BenchmarkDotNet (issue 19, BENCHMARKS.md "WireGuard crypto
/// primitives", medians of 3): the DH from NSec.Cryptography (libsodium), 0.94× BouncyCastle's with the private key
/// imported for the call (ephemeral keys) and 0.49× with it imported once (<see cref="ImportPrivateKey"/>, which
/// <c>LocalIdentity</c> does for the static key); the public key from BouncyCastle.Cryptography, whose fixed-base
/// multiplication needs no key import (NSec: 1.19× its time, most of it libsodium's guarded key memory).
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

    /// <summary>The public key of <paramref name="privateKey"/> (clamped as RFC 7748 §5 says, whatever its bits).</summary>
    public static byte[] PublicKey(ReadOnlySpan<byte> privateKey)
    {
        byte[] result = new byte[KeySize];
        Org.BouncyCastle.Math.EC.Rfc7748.X25519.ScalarMultBase(privateKey, result);
        return result;
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
