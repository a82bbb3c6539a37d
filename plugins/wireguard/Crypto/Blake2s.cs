using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// The BLAKE2s constructions WireGuard uses (whitepaper §5.4): HASH, the keyed MAC, and KDF_n, which is HKDF
/// (RFC 5869) over HMAC-BLAKE2s. All three come from BouncyCastle.Cryptography (Blake2sDigest, HkdfBytesGenerator):
/// the hand-written HMAC and HKDF chaining this plugin had tied with BouncyCastle's in BenchmarkDotNet (issue 19,
/// BENCHMARKS.md "WireGuard crypto primitives") and were deleted. NSec/libsodium has BLAKE2b only.
/// </summary>
/// <remarks>Used only on the handshake and cookie paths: the few allocations BouncyCastle needs are acceptable there.</remarks>
internal static class Blake2s
{
    /// <summary>Output size of HASH and of each KDF output, in bytes.</summary>
    public const int HashSize = 32;

    /// <summary>Output size of MAC (mac1, mac2, cookies), in bytes.</summary>
    public const int MacSize = 16;

    /// <summary>HASH(a || b) with a 32-byte output.</summary>
    public static void Hash(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> output)
    {
        var digest = new Blake2sDigest(HashSize * 8);
        digest.BlockUpdate(a);
        digest.BlockUpdate(b);
        digest.DoFinal(output[..HashSize]);
    }

    /// <summary>Keyed BLAKE2s with a 16-byte output: MAC(key, input) of the whitepaper.</summary>
    public static void Mac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        var digest = new Blake2sDigest(key.ToArray(), MacSize, null, null);
        digest.BlockUpdate(input);
        digest.DoFinal(output[..MacSize]);
    }

    /// <summary>
    /// KDF_n(key, input) of the whitepaper: HKDF with the chaining key as salt, <paramref name="input"/> as input
    /// keying material and no info; writes 1–3 outputs of 32 bytes (empty spans are not written).
    /// </summary>
    public static void Kdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> input, Span<byte> t1, Span<byte> t2, Span<byte> t3)
    {
        int outputs = t3.IsEmpty ? (t2.IsEmpty ? 1 : 2) : 3;
        var hkdf = new HkdfBytesGenerator(new Blake2sDigest(HashSize * 8));
        hkdf.Init(new HkdfParameters(input.ToArray(), chainingKey.ToArray(), null));
        Span<byte> okm = stackalloc byte[3 * HashSize];
        hkdf.GenerateBytes(okm[..(outputs * HashSize)]);
        okm[..HashSize].CopyTo(t1);
        if (outputs > 1)
        {
            okm.Slice(HashSize, HashSize).CopyTo(t2);
        }

        if (outputs > 2)
        {
            okm.Slice(2 * HashSize, HashSize).CopyTo(t3);
        }

        okm.Clear();
    }
}
