using NSec.Cryptography;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) for WireGuard's cookie reply, from NSec.Cryptography (libsodium).
/// It replaced this plugin's own HChaCha20 over the BCL's ChaCha20Poly1305, which took 8× the CPU time per cookie in
/// BenchmarkDotNet (issue 19, BENCHMARKS.md): the key (a peer's or our cookie key, fixed per public key) is imported
/// once into a <see cref="Key"/>, since an import costs more than the sealing itself.
/// </summary>
internal static class XChaCha20Poly1305
{
    /// <summary>Nonce size in bytes.</summary>
    public const int NonceSize = 24;

    /// <summary>Tag size in bytes.</summary>
    public const int TagSize = 16;

    /// <summary>Imports a 32-byte key once for many calls.</summary>
    public static Key ImportKey(ReadOnlySpan<byte> key) =>
        Key.Import(AeadAlgorithm.XChaCha20Poly1305, key, KeyBlobFormat.RawSymmetricKey);

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="ciphertextAndTag"/> (plaintext length + 16 bytes).</summary>
    public static void Encrypt(Key key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertextAndTag, ReadOnlySpan<byte> associatedData) =>
        AeadAlgorithm.XChaCha20Poly1305.Encrypt(key, nonce, associatedData, plaintext, ciphertextAndTag[..(plaintext.Length + TagSize)]);

    /// <summary>Decrypts and authenticates <paramref name="ciphertextAndTag"/>; false when the tag does not match.</summary>
    public static bool TryDecrypt(Key key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertextAndTag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData) =>
        AeadAlgorithm.XChaCha20Poly1305.Decrypt(key, nonce, associatedData, ciphertextAndTag, plaintext[..(ciphertextAndTag.Length - TagSize)]);
}
