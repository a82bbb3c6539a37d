using Org.BouncyCastle.Crypto.Digests;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// The BLAKE2s constructions WireGuard uses (whitepaper §5.4): HASH, keyed MAC, HMAC-BLAKE2s and the HKDF
/// built from it. BLAKE2s itself comes from BouncyCastle; HMAC is written here because WireGuard fixes its
/// block size at 64 bytes (RFC 2104 over BLAKE2s), which is small enough to state exactly.
/// </summary>
/// <remarks>Used only on the handshake path, so the few allocations BouncyCastle's array API needs are acceptable.</remarks>
internal static class Blake2s
{
    /// <summary>Output size of HASH and HMAC, in bytes.</summary>
    public const int HashSize = 32;

    /// <summary>Output size of MAC (mac1, mac2, cookies), in bytes.</summary>
    public const int MacSize = 16;

    private const int BlockSize = 64;

    /// <summary>HASH(a || b) with a 32-byte output.</summary>
    public static void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output)
    {
        var digest = new Blake2sDigest(HashSize * 8);
        Update(digest, a);
        Update(digest, b);
        Final(digest, output[..HashSize]);
    }

    /// <summary>Keyed BLAKE2s with a 16-byte output: MAC(key, input) of the whitepaper.</summary>
    public static void Mac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        var digest = new Blake2sDigest(key.ToArray(), MacSize, null, null);
        Update(digest, input);
        Final(digest, output[..MacSize]);
    }

    /// <summary>HMAC-BLAKE2s (RFC 2104, 64-byte block) with a 32-byte output.</summary>
    public static void Hmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        Span<byte> k = stackalloc byte[BlockSize];
        k.Clear();
        if (key.Length > BlockSize)
        {
            Hash(key, default, k);
        }
        else
        {
            key.CopyTo(k);
        }

        Span<byte> pad = stackalloc byte[BlockSize];
        for (int i = 0; i < BlockSize; i++)
        {
            pad[i] = (byte)(k[i] ^ 0x36);
        }

        Span<byte> inner = stackalloc byte[HashSize];
        var digest = new Blake2sDigest(HashSize * 8);
        Update(digest, pad);
        Update(digest, input);
        Final(digest, inner);

        for (int i = 0; i < BlockSize; i++)
        {
            pad[i] = (byte)(k[i] ^ 0x5c);
        }

        digest.Reset();
        Update(digest, pad);
        Update(digest, inner);
        Final(digest, output[..HashSize]);
        k.Clear();
        pad.Clear();
    }

    /// <summary>
    /// KDF_n(key, input) of the whitepaper (HKDF, RFC 5869, with HMAC-BLAKE2s): writes 1–3 outputs of 32 bytes.
    /// </summary>
    public static void Kdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> input, Span<byte> t1, Span<byte> t2, Span<byte> t3)
    {
        Span<byte> prk = stackalloc byte[HashSize];
        Hmac(chainingKey, input, prk);
        Span<byte> buffer = stackalloc byte[HashSize + 1];
        buffer[0] = 1;
        Hmac(prk, buffer[..1], t1);
        if (!t2.IsEmpty)
        {
            t1[..HashSize].CopyTo(buffer);
            buffer[HashSize] = 2;
            Hmac(prk, buffer, t2);
        }

        if (!t3.IsEmpty)
        {
            t2[..HashSize].CopyTo(buffer);
            buffer[HashSize] = 3;
            Hmac(prk, buffer, t3);
        }

        prk.Clear();
        buffer.Clear();
    }

    private static void Update(Blake2sDigest digest, ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty)
        {
            byte[] copy = data.ToArray();
            digest.BlockUpdate(copy, 0, copy.Length);
        }
    }

    private static void Final(Blake2sDigest digest, Span<byte> output)
    {
        byte[] result = new byte[digest.GetDigestSize()];
        digest.DoFinal(result, 0);
        result.CopyTo(output);
    }
}
