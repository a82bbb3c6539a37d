using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using NSec.Cryptography;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;
using Gateway.Plugins.WireGuard.Crypto;
using BclChaCha = System.Security.Cryptography.ChaCha20Poly1305;
using NSecAead = NSec.Cryptography.AeadAlgorithm;

namespace Gateway.Benchmarks.WireGuard;

/// <summary>
/// Issue 19: every WireGuard primitive, each candidate package (and ours where we have one) side by side in one
/// run, so the plugin keeps the fastest maintained one. Grouped by category; the baseline of each group is what
/// the plugin used before the comparison.
/// Timed by the thread's CPU time (<see cref="CpuTimeConfig"/>): the shared machine makes wall-clock times useless.
/// Run: <c>dotnet run -c Release --project tests/Gateway.Benchmarks -- --filter '*CryptoPrimitive*'</c>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(CpuTimeConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class CryptoPrimitiveBenchmarks
{
    private const int PacketBytes = 1420;
    private const int GsoBatch = 64;

    private readonly byte[] _privateKey = RandomNumberGenerator.GetBytes(32);
    private readonly byte[] _publicKey = new byte[32];
    private readonly byte[] _shared = new byte[32];
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly byte[] _nonce = new byte[12];
    private readonly byte[] _xnonce = RandomNumberGenerator.GetBytes(24);
    private readonly byte[] _ad = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _cookie = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _cookieOut = new byte[32];
    private readonly byte[] _packet = new byte[PacketBytes + 16];
    private readonly byte[] _batch = new byte[GsoBatch * (PacketBytes + 32)];
    private readonly byte[] _sealedPacket = new byte[PacketBytes + 16];
    private readonly byte[] _opened = new byte[PacketBytes + 16];
    private readonly byte[] _hashOut = new byte[32];
    private readonly byte[] _t1 = new byte[32];
    private readonly byte[] _t2 = new byte[32];
    private readonly byte[] _t3 = new byte[32];
    private readonly byte[] _message = RandomNumberGenerator.GetBytes(116);
    private BclChaCha _bcl = null!;
    private OpenSslChaCha20Poly1305 _osslSeal = null!;
    private OpenSslChaCha20Poly1305 _osslOpen = null!;
    private Key _nsecKey = null!;
    private Key _nsecXKey = null!;
    private Key _nsecPrivate = null!;
    private PublicKey _nsecPublic = null!;
    private ulong _counter;

    [GlobalSetup]
    public void Setup()
    {
        _privateKey[0] &= 248;
        _privateKey[31] = (byte)((_privateKey[31] & 127) | 64);
        Org.BouncyCastle.Math.EC.Rfc7748.X25519.ScalarMultBase(RandomNumberGenerator.GetBytes(32), _publicKey);
        _bcl = new BclChaCha(_key);
        _osslSeal = OpenSslChaCha20Poly1305.TryCreate(_key, encrypt: true) ?? throw new InvalidOperationException("libcrypto.so.3 did not load");
        _osslOpen = OpenSslChaCha20Poly1305.TryCreate(_key, encrypt: false)!;
        _nsecKey = Key.Import(NSecAead.ChaCha20Poly1305, _key, KeyBlobFormat.RawSymmetricKey);
        _nsecXKey = Key.Import(NSecAead.XChaCha20Poly1305, _key, KeyBlobFormat.RawSymmetricKey);
        _nsecPrivate = Key.Import(KeyAgreementAlgorithm.X25519, _privateKey, KeyBlobFormat.RawPrivateKey);
        _nsecPublic = NSec.Cryptography.PublicKey.Import(KeyAgreementAlgorithm.X25519, _publicKey, KeyBlobFormat.RawPublicKey);
        RandomNumberGenerator.Fill(_packet.AsSpan(0, PacketBytes));
        RandomNumberGenerator.Fill(_batch);
        _bcl.Encrypt(_nonce, _packet.AsSpan(0, PacketBytes), _sealedPacket.AsSpan(0, PacketBytes), _sealedPacket.AsSpan(PacketBytes, 16));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _bcl.Dispose();
        _osslSeal.Dispose();
        _osslOpen.Dispose();
        _nsecKey.Dispose();
        _nsecXKey.Dispose();
        _nsecPrivate.Dispose();
    }

    // ---- X25519: one DH of the handshake (4 per initiation, 2+1 per response) ----

    [Benchmark(Baseline = true), BenchmarkCategory("X25519 DH")]
    public void X25519_BouncyCastle() =>
        Org.BouncyCastle.Math.EC.Rfc7748.X25519.ScalarMult(_privateKey, _publicKey, _shared);

    /// <summary>NSec with the private key imported per call (ephemeral keys are new for each handshake).</summary>
    [Benchmark, BenchmarkCategory("X25519 DH")]
    public bool X25519_NSec_ImportEachTime()
    {
        using Key key = Key.Import(KeyAgreementAlgorithm.X25519, _privateKey, KeyBlobFormat.RawPrivateKey);
        var pub = NSec.Cryptography.PublicKey.Import(KeyAgreementAlgorithm.X25519, _publicKey, KeyBlobFormat.RawPublicKey);
        using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(key, pub, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return secret!.TryExport(SharedSecretBlobFormat.RawSharedSecret, _shared, out _);
    }

    /// <summary>NSec with both keys already imported (the static-static DH).</summary>
    [Benchmark, BenchmarkCategory("X25519 DH")]
    public bool X25519_NSec_Imported()
    {
        using SharedSecret? secret = KeyAgreementAlgorithm.X25519.Agree(_nsecPrivate, _nsecPublic, new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return secret!.TryExport(SharedSecretBlobFormat.RawSharedSecret, _shared, out _);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("X25519 public key")]
    public void X25519Base_BouncyCastle() =>
        Org.BouncyCastle.Math.EC.Rfc7748.X25519.ScalarMultBase(_privateKey, _shared);

    [Benchmark, BenchmarkCategory("X25519 public key")]
    public bool X25519Base_NSec()
    {
        using Key key = Key.Import(KeyAgreementAlgorithm.X25519, _privateKey, KeyBlobFormat.RawPrivateKey);
        return key.PublicKey.TryExport(KeyBlobFormat.RawPublicKey, _shared, out _);
    }

    // ---- ChaCha20-Poly1305: the data path, one 1420-byte packet in place ----

    [Benchmark(Baseline = true), BenchmarkCategory("ChaCha20Poly1305 seal 1420")]
    public void Seal1420_Bcl()
    {
        BitConverterNonce(_nonce, ++_counter);
        _bcl.Encrypt(_nonce, _packet.AsSpan(0, PacketBytes), _packet.AsSpan(0, PacketBytes), _packet.AsSpan(PacketBytes, 16));
    }

    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 seal 1420")]
    public void Seal1420_NSec()
    {
        BitConverterNonce(_nonce, ++_counter);
        NSecAead.ChaCha20Poly1305.Encrypt(_nsecKey, _nonce, default, _packet.AsSpan(0, PacketBytes), _packet);
    }

    /// <summary>The data path since issue 21: OpenSSL EVP with the key schedule kept, the nonce set per message.</summary>
    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 seal 1420")]
    public bool Seal1420_OpenSsl()
    {
        BitConverterNonce(_nonce, ++_counter);
        return _osslSeal.Seal(_nonce, _packet.AsSpan(0, PacketBytes), _packet);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("ChaCha20Poly1305 open 1420")]
    public void Open1420_Bcl()
    {
        _nonce.AsSpan().Clear();
        _bcl.Decrypt(_nonce, _sealedPacket.AsSpan(0, PacketBytes), _sealedPacket.AsSpan(PacketBytes, 16), _opened.AsSpan(0, PacketBytes));
    }

    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 open 1420")]
    public bool Open1420_NSec()
    {
        _nonce.AsSpan().Clear();
        return NSecAead.ChaCha20Poly1305.Decrypt(_nsecKey, _nonce, default, _sealedPacket, _opened.AsSpan(0, PacketBytes));
    }

    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 open 1420")]
    public bool Open1420_OpenSsl()
    {
        _nonce.AsSpan().Clear();
        return _osslOpen.Open(_nonce, _sealedPacket, _opened.AsSpan(0, PacketBytes));
    }

    [Benchmark(Baseline = true), BenchmarkCategory("ChaCha20Poly1305 open forgery")]
    public bool OpenForgery_Bcl()
    {
        _nonce.AsSpan().Clear();
        _nonce[4] = 1;
        try
        {
            _bcl.Decrypt(_nonce, _sealedPacket.AsSpan(0, PacketBytes), _sealedPacket.AsSpan(PacketBytes, 16), _opened.AsSpan(0, PacketBytes));
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 open forgery")]
    public bool OpenForgery_NSec()
    {
        _nonce.AsSpan().Clear();
        _nonce[4] = 1;
        return NSecAead.ChaCha20Poly1305.Decrypt(_nsecKey, _nonce, default, _sealedPacket, _opened.AsSpan(0, PacketBytes));
    }

    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 open forgery")]
    public bool OpenForgery_OpenSsl()
    {
        _nonce.AsSpan().Clear();
        _nonce[4] = 1;
        return _osslOpen.Open(_nonce, _sealedPacket, _opened.AsSpan(0, PacketBytes));
    }

    /// <summary>A GSO batch: 64 full-MTU messages back to back in one buffer, sealed in place one after another.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = GsoBatch), BenchmarkCategory("ChaCha20Poly1305 seal GSO batch (per packet)")]
    public void SealBatch_Bcl()
    {
        for (int i = 0; i < GsoBatch; i++)
        {
            Span<byte> message = _batch.AsSpan(i * (PacketBytes + 32) + 16, PacketBytes + 16);
            BitConverterNonce(_nonce, ++_counter);
            _bcl.Encrypt(_nonce, message[..PacketBytes], message[..PacketBytes], message[PacketBytes..]);
        }
    }

    [Benchmark(OperationsPerInvoke = GsoBatch), BenchmarkCategory("ChaCha20Poly1305 seal GSO batch (per packet)")]
    public void SealBatch_NSec()
    {
        for (int i = 0; i < GsoBatch; i++)
        {
            Span<byte> message = _batch.AsSpan(i * (PacketBytes + 32) + 16, PacketBytes + 16);
            BitConverterNonce(_nonce, ++_counter);
            NSecAead.ChaCha20Poly1305.Encrypt(_nsecKey, _nonce, default, message[..PacketBytes], message);
        }
    }

    [Benchmark(OperationsPerInvoke = GsoBatch), BenchmarkCategory("ChaCha20Poly1305 seal GSO batch (per packet)")]
    public void SealBatch_OpenSsl()
    {
        for (int i = 0; i < GsoBatch; i++)
        {
            Span<byte> message = _batch.AsSpan(i * (PacketBytes + 32) + 16, PacketBytes + 16);
            BitConverterNonce(_nonce, ++_counter);
            _osslSeal.Seal(_nonce, message[..PacketBytes], message);
        }
    }

    /// <summary>Key set-up per session (a keypair makes two).</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("ChaCha20Poly1305 key set-up")]
    public void KeySetup_Bcl()
    {
        using var aead = new BclChaCha(_key);
    }

    [Benchmark, BenchmarkCategory("ChaCha20Poly1305 key set-up")]
    public void KeySetup_NSec()
    {
        using Key key = Key.Import(NSecAead.ChaCha20Poly1305, _key, KeyBlobFormat.RawSymmetricKey);
    }

    // ---- BLAKE2s: HASH, MAC (mac1 over a 116-byte initiation), KDF3 ----

    [Benchmark(Baseline = true), BenchmarkCategory("BLAKE2s HASH(32+32)")]
    public void Hash_BouncyCastleArrays()
    {
        // The plugin's code before issue 19: BouncyCastle's array API, copying each input.
        var digest = new Blake2sDigest(256);
        byte[] a = _key.AsSpan().ToArray();
        byte[] b = _publicKey.AsSpan().ToArray();
        digest.BlockUpdate(a, 0, a.Length);
        digest.BlockUpdate(b, 0, b.Length);
        byte[] result = new byte[32];
        digest.DoFinal(result, 0);
        result.CopyTo(_hashOut, 0);
    }

    [Benchmark, BenchmarkCategory("BLAKE2s HASH(32+32)")]
    public void Hash_BouncyCastleSpans()
    {
        var digest = new Blake2sDigest(256);
        digest.BlockUpdate(_key.AsSpan());
        digest.BlockUpdate(_publicKey.AsSpan());
        digest.DoFinal(_hashOut.AsSpan());
    }

    [Benchmark(Baseline = true), BenchmarkCategory("BLAKE2s MAC 116 B")]
    public void Mac_BouncyCastleArrays()
    {
        var digest = new Blake2sDigest(_key.AsSpan().ToArray(), 16, null, null);
        byte[] m = _message.AsSpan().ToArray();
        digest.BlockUpdate(m, 0, m.Length);
        byte[] result = new byte[16];
        digest.DoFinal(result, 0);
        result.CopyTo(_hashOut, 0);
    }

    [Benchmark, BenchmarkCategory("BLAKE2s MAC 116 B")]
    public void Mac_BouncyCastleSpans()
    {
        var digest = new Blake2sDigest(_key, 16, null, null);
        digest.BlockUpdate(_message.AsSpan());
        digest.DoFinal(_hashOut.AsSpan());
    }

    /// <summary>Ours: HMAC-BLAKE2s written out (RFC 2104, 64-byte block) and HKDF chained by hand over BouncyCastle's BLAKE2s.</summary>
    [Benchmark(Baseline = true), BenchmarkCategory("BLAKE2s KDF3")]
    public void Kdf3_OurHmacAndHkdf()
    {
        Span<byte> prk = stackalloc byte[32];
        OurHmac(_key, _publicKey, prk);
        Span<byte> buffer = stackalloc byte[33];
        buffer[0] = 1;
        OurHmac(prk, buffer[..1], _t1);
        _t1.CopyTo(buffer);
        buffer[32] = 2;
        OurHmac(prk, buffer, _t2);
        _t2.CopyTo(buffer);
        buffer[32] = 3;
        OurHmac(prk, buffer, _t3);
    }

    /// <summary>BouncyCastle's HMac over Blake2sDigest, chained as HKDF (the whitepaper's KDF3).</summary>
    [Benchmark, BenchmarkCategory("BLAKE2s KDF3")]
    public void Kdf3_BouncyCastleHMac()
    {
        var hmac = new HMac(new Blake2sDigest(256));
        Span<byte> prk = stackalloc byte[32];
        hmac.Init(new KeyParameter(_key));
        hmac.BlockUpdate(_publicKey);
        hmac.DoFinal(prk);
        hmac.Init(new KeyParameter(prk));
        hmac.Update(1);
        hmac.DoFinal(_t1);
        hmac.BlockUpdate(_t1);
        hmac.Update(2);
        hmac.DoFinal(_t2);
        hmac.BlockUpdate(_t2);
        hmac.Update(3);
        hmac.DoFinal(_t3);
    }

    /// <summary>BouncyCastle's HKDF generator (RFC 5869 with the chaining key as salt, empty info).</summary>
    [Benchmark, BenchmarkCategory("BLAKE2s KDF3")]
    public void Kdf3_BouncyCastleHkdf()
    {
        var hkdf = new HkdfBytesGenerator(new Blake2sDigest(256));
        hkdf.Init(new HkdfParameters(_publicKey, _key, null));
        Span<byte> output = stackalloc byte[96];
        hkdf.GenerateBytes(output);
        output[..32].CopyTo(_t1);
        output.Slice(32, 32).CopyTo(_t2);
        output[64..].CopyTo(_t3);
    }

    // ---- XChaCha20-Poly1305: the cookie reply (16-byte cookie, mac1 as associated data) ----

    [Benchmark(Baseline = true), BenchmarkCategory("XChaCha20Poly1305 cookie seal")]
    public void CookieSeal_OurHChaCha20AndBcl()
    {
        Span<byte> subkey = stackalloc byte[32];
        Span<byte> nonce = stackalloc byte[12];
        OurHChaCha20(_key, _xnonce.AsSpan(0, 16), subkey);
        nonce[..4].Clear();
        _xnonce.AsSpan(16, 8).CopyTo(nonce[4..]);
        using var aead = new BclChaCha(subkey);
        aead.Encrypt(nonce, _cookie, _cookieOut.AsSpan(0, 16), _cookieOut.AsSpan(16, 16), _ad);
        CryptographicOperations.ZeroMemory(subkey);
    }

    [Benchmark, BenchmarkCategory("XChaCha20Poly1305 cookie seal")]
    public void CookieSeal_NSec() =>
        NSecAead.XChaCha20Poly1305.Encrypt(_nsecXKey, _xnonce, _ad, _cookie, _cookieOut);

    /// <summary>NSec with the key imported per call (the cookie key is per peer, so it can also be kept).</summary>
    [Benchmark, BenchmarkCategory("XChaCha20Poly1305 cookie seal")]
    public void CookieSeal_NSecImportEachTime()
    {
        using Key key = Key.Import(NSecAead.XChaCha20Poly1305, _key, KeyBlobFormat.RawSymmetricKey);
        NSecAead.XChaCha20Poly1305.Encrypt(key, _xnonce, _ad, _cookie, _cookieOut);
    }

    private static void BitConverterNonce(byte[] nonce, ulong counter) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(nonce.AsSpan(4), counter);

    private static void OurHmac(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        Span<byte> pad = stackalloc byte[64];
        pad.Clear();
        key.CopyTo(pad);
        for (int i = 0; i < 64; i++)
        {
            pad[i] ^= 0x36;
        }

        Span<byte> inner = stackalloc byte[32];
        var digest = new Blake2sDigest(256);
        digest.BlockUpdate(pad);
        digest.BlockUpdate(input);
        digest.DoFinal(inner);
        for (int i = 0; i < 64; i++)
        {
            pad[i] ^= 0x36 ^ 0x5c;
        }

        digest.BlockUpdate(pad);
        digest.BlockUpdate(inner);
        digest.DoFinal(output);
    }

    /// <summary>The plugin's HChaCha20 before issue 19 (draft-irtf-cfrg-xchacha §2.2), kept here only to be measured.</summary>
    private static void OurHChaCha20(ReadOnlySpan<byte> key, ReadOnlySpan<byte> nonce16, Span<byte> subkey)
    {
        Span<uint> s = stackalloc uint[16];
        s[0] = 0x61707865;
        s[1] = 0x3320646e;
        s[2] = 0x79622d32;
        s[3] = 0x6b206574;
        for (int i = 0; i < 8; i++)
        {
            s[4 + i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(key[(i * 4)..]);
        }

        for (int i = 0; i < 4; i++)
        {
            s[12 + i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(nonce16[(i * 4)..]);
        }

        for (int round = 0; round < 10; round++)
        {
            Qr(s, 0, 4, 8, 12);
            Qr(s, 1, 5, 9, 13);
            Qr(s, 2, 6, 10, 14);
            Qr(s, 3, 7, 11, 15);
            Qr(s, 0, 5, 10, 15);
            Qr(s, 1, 6, 11, 12);
            Qr(s, 2, 7, 8, 13);
            Qr(s, 3, 4, 9, 14);
        }

        for (int i = 0; i < 4; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(subkey[(i * 4)..], s[i]);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(subkey[(16 + (i * 4))..], s[12 + i]);
        }
    }

    private static void Qr(Span<uint> s, int a, int b, int c, int d)
    {
        s[a] += s[b]; s[d] = System.Numerics.BitOperations.RotateLeft(s[d] ^ s[a], 16);
        s[c] += s[d]; s[b] = System.Numerics.BitOperations.RotateLeft(s[b] ^ s[c], 12);
        s[a] += s[b]; s[d] = System.Numerics.BitOperations.RotateLeft(s[d] ^ s[a], 8);
        s[c] += s[d]; s[b] = System.Numerics.BitOperations.RotateLeft(s[b] ^ s[c], 7);
    }
}
