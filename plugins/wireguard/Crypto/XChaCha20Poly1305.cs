using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), used only for WireGuard's cookie reply. HChaCha20 is
/// written here (the BCL has no XChaCha); the AEAD is the BCL's ChaCha20Poly1305 under the HChaCha20 subkey.
/// </summary>
internal static class XChaCha20Poly1305
{
    /// <summary>Nonce size in bytes.</summary>
    public const int NonceSize = 24;

    /// <summary>Tag size in bytes.</summary>
    public const int TagSize = 16;

    /// <summary>HChaCha20 (draft-irtf-cfrg-xchacha §2.2): a 32-byte subkey from a key and a 16-byte nonce.</summary>
    public static void HChaCha20(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce16, Span<byte> subkey)
    {
        Span<uint> s = stackalloc uint[16];
        s[0] = 0x61707865;
        s[1] = 0x3320646e;
        s[2] = 0x79622d32;
        s[3] = 0x6b206574;
        for (int i = 0; i < 8; i++)
        {
            s[4 + i] = BinaryPrimitives.ReadUInt32LittleEndian(key[(i * 4)..]);
        }

        for (int i = 0; i < 4; i++)
        {
            s[12 + i] = BinaryPrimitives.ReadUInt32LittleEndian(nonce16[(i * 4)..]);
        }

        for (int round = 0; round < 10; round++)
        {
            QuarterRound(s, 0, 4, 8, 12);
            QuarterRound(s, 1, 5, 9, 13);
            QuarterRound(s, 2, 6, 10, 14);
            QuarterRound(s, 3, 7, 11, 15);
            QuarterRound(s, 0, 5, 10, 15);
            QuarterRound(s, 1, 6, 11, 12);
            QuarterRound(s, 2, 7, 8, 13);
            QuarterRound(s, 3, 4, 9, 14);
        }

        for (int i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(subkey[(i * 4)..], s[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(subkey[(16 + (i * 4))..], s[12 + i]);
        }

        s.Clear();
    }

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="ciphertext"/> and <paramref name="tag"/>.</summary>
    public static void Encrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> subkey = stackalloc byte[32];
        Span<byte> chachaNonce = stackalloc byte[12];
        Derive(key, nonce, subkey, chachaNonce);
        using var aead = new ChaCha20Poly1305(subkey);
        aead.Encrypt(chachaNonce, plaintext, ciphertext, tag, associatedData);
        CryptographicOperations.ZeroMemory(subkey);
    }

    /// <summary>Decrypts and authenticates; false when the tag does not match.</summary>
    public static bool TryDecrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        Span<byte> subkey = stackalloc byte[32];
        Span<byte> chachaNonce = stackalloc byte[12];
        Derive(key, nonce, subkey, chachaNonce);
        using var aead = new ChaCha20Poly1305(subkey);
        try
        {
            aead.Decrypt(chachaNonce, ciphertext, tag, plaintext, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(subkey);
        }
    }

    private static void Derive(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce, Span<byte> subkey, Span<byte> chachaNonce)
    {
        // draft-irtf-cfrg-xchacha §2.3: subkey = HChaCha20(key, nonce[0..16]); nonce = 0^4 || nonce[16..24].
        HChaCha20(key, nonce[..16], subkey);
        chachaNonce[..4].Clear();
        nonce[16..24].CopyTo(chachaNonce[4..]);
    }

    private static void QuarterRound(Span<uint> s, int a, int b, int c, int d)
    {
        s[a] += s[b]; s[d] = BitOperations.RotateLeft(s[d] ^ s[a], 16);
        s[c] += s[d]; s[b] = BitOperations.RotateLeft(s[b] ^ s[c], 12);
        s[a] += s[b]; s[d] = BitOperations.RotateLeft(s[d] ^ s[a], 8);
        s[c] += s[d]; s[b] = BitOperations.RotateLeft(s[b] ^ s[c], 7);
    }
}
