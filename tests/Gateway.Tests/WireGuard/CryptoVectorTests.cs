using System.Security.Cryptography;
using System.Text;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Noise;

namespace Gateway.Tests.WireGuard;

public sealed class CryptoVectorTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    private static readonly byte[] Sunscreen = Encoding.ASCII.GetBytes(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");

    [Fact]
    public void TryAgree_Rfc7748Section5_2Vector_MatchesOutput()
    {
        byte[] shared = new byte[32];
        Assert.True(Curve25519.TryAgree(
            Hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            Hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"), shared));
        Assert.Equal("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", Convert.ToHexStringLower(shared));
    }

    [Fact]
    public void TryAgree_Rfc7748Section6_1AliceAndBob_SameSharedSecret()
    {
        byte[] alice = Hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        byte[] bob = Hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        Assert.Equal("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", Convert.ToHexStringLower(Curve25519.PublicKey(alice)));
        Assert.Equal("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", Convert.ToHexStringLower(Curve25519.PublicKey(bob)));
        byte[] k1 = new byte[32], k2 = new byte[32];
        Assert.True(Curve25519.TryAgree(alice, Curve25519.PublicKey(bob), k1));
        Assert.True(Curve25519.TryAgree(bob, Curve25519.PublicKey(alice), k2));
        Assert.Equal("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", Convert.ToHexStringLower(k1));
        Assert.Equal(k1, k2);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0100000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")]
    public void TryAgree_LowOrderPoint_AllZeroResultRejected(string lowOrderPoint)
    {
        byte[] shared = new byte[32];
        Assert.False(Curve25519.TryAgree(Curve25519.GeneratePrivateKey(), Hex(lowOrderPoint), shared));
    }

    [Fact]
    public void Hash_Rfc7693AppendixB_Abc()
    {
        byte[] output = new byte[32];
        Blake2s.Hash("abc"u8, default, output);
        Assert.Equal("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982", Convert.ToHexStringLower(output));
    }

    [Fact]
    public void Mac_Keyed16ByteOutput_MatchesPythonHashlib()
    {
        // Expected value from Python's hashlib.blake2s(b"abc", key=bytes(range(32)), digest_size=16), an independent BLAKE2s.
        byte[] output = new byte[16];
        Blake2s.Mac(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), "abc"u8, output);
        Assert.Equal("61ba5f165c194692e09d12520cc4c74a", Convert.ToHexStringLower(output));
    }

    [Fact]
    public void Kdf_HmacBlake2s_MatchesPythonHmacModule()
    {
        // Expected values from Python's hmac.new(key, data, hashlib.blake2s) chained as RFC 5869 (WireGuard's KDF3).
        byte[] key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        // HMAC-BLAKE2s itself is BouncyCastle's HMac over Blake2sDigest (the HKDF under Blake2s.Kdf).
        var mac = new Org.BouncyCastle.Crypto.Macs.HMac(new Org.BouncyCastle.Crypto.Digests.Blake2sDigest(256));
        mac.Init(new Org.BouncyCastle.Crypto.Parameters.KeyParameter(key));
        mac.BlockUpdate("WireGuard"u8);
        byte[] hmac = new byte[32];
        mac.DoFinal(hmac);
        Assert.Equal("5415924543576b3f5ee867c94e1aab70586d33b32fae3fccd2c635b3e1d7198d", Convert.ToHexStringLower(hmac));
        byte[] t1 = new byte[32], t2 = new byte[32], t3 = new byte[32];
        Blake2s.Kdf(key, "WireGuard"u8, t1, t2, t3);
        Assert.Equal("7e615ce2573f4139b960d562ec463daf7164bd86a0a64c0adc374ff2655769f3", Convert.ToHexStringLower(t1));
        Assert.Equal("42dbbd4438e101cd2c2ea8d05ed6716bf87489aea47ece2f06358835670130bf", Convert.ToHexStringLower(t2));
        Assert.Equal("5c58c1d9808a5bfdf8f38f6487248985c04f4b6d0fe427516935a0f6903b0157", Convert.ToHexStringLower(t3));
    }

    [Fact]
    public void InitialChainKeyAndHash_ConstructionAndIdentifier_MatchWireGuard()
    {
        Assert.Equal("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", Convert.ToHexStringLower(NoiseProtocol.InitialChainKey));
        Assert.Equal("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3", Convert.ToHexStringLower(NoiseProtocol.InitialHash));
    }

    [Fact]
    public void ChaCha20Poly1305_Rfc8439Section2_8_2InPlace_MatchesVector()
    {
        using var aead = new ChaCha20Poly1305(Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"));
        byte[] buffer = (byte[])Sunscreen.Clone();
        byte[] tag = new byte[16];
        // In place, as the data path encrypts.
        aead.Encrypt(Hex("070000004041424344454647"), buffer, buffer, tag, Hex("50515253c0c1c2c3c4c5c6c7"));
        Assert.Equal(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
            Convert.ToHexStringLower(buffer));
        Assert.Equal("1ae10b594f09e26a7e902ecbd0600691", Convert.ToHexStringLower(tag));
    }

    [Fact]
    public void XChaCha20Poly1305_DraftXChaChaAppendixA_3_1_MatchesVectorAndRoundTrips()
    {
        byte[] key = Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
        byte[] nonce = Hex("404142434445464748494a4b4c4d4e4f5051525354555657");
        byte[] ad = Hex("50515253c0c1c2c3c4c5c6c7");
        using NSec.Cryptography.Key imported = XChaCha20Poly1305.ImportKey(key);
        byte[] sealedText = new byte[Sunscreen.Length + 16];
        XChaCha20Poly1305.Encrypt(imported, nonce, Sunscreen, sealedText, ad);
        Assert.Equal(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e",
            Convert.ToHexStringLower(sealedText.AsSpan(0, Sunscreen.Length)));
        Assert.Equal("c0875924c1c7987947deafd8780acf49", Convert.ToHexStringLower(sealedText.AsSpan(Sunscreen.Length)));

        byte[] plaintext = new byte[Sunscreen.Length];
        Assert.True(XChaCha20Poly1305.TryDecrypt(imported, nonce, sealedText, plaintext, ad));
        Assert.Equal(Sunscreen, plaintext);
        sealedText[^16] ^= 1;
        Assert.False(XChaCha20Poly1305.TryDecrypt(imported, nonce, sealedText, plaintext, ad));
    }

    [Fact]
    public void ChaCha20Poly1305_NSecRfc8439Section2_8_2InPlace_MatchesVector()
    {
        // The data path's AEAD (Keypair): NSec/libsodium, ciphertext and tag in place as WireGuard lays them out.
        var aead = NSec.Cryptography.AeadAlgorithm.ChaCha20Poly1305;
        using var key = NSec.Cryptography.Key.Import(aead, Hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"), NSec.Cryptography.KeyBlobFormat.RawSymmetricKey);
        byte[] buffer = new byte[Sunscreen.Length + 16];
        Sunscreen.CopyTo(buffer, 0);
        aead.Encrypt(key, Hex("070000004041424344454647"), Hex("50515253c0c1c2c3c4c5c6c7"), buffer.AsSpan(0, Sunscreen.Length), buffer);
        Assert.Equal(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116" +
            "1ae10b594f09e26a7e902ecbd0600691",
            Convert.ToHexStringLower(buffer));
        Assert.True(aead.Decrypt(key, Hex("070000004041424344454647"), Hex("50515253c0c1c2c3c4c5c6c7"), buffer, buffer.AsSpan(0, Sunscreen.Length)));
        Assert.Equal(Sunscreen, buffer.AsSpan(0, Sunscreen.Length).ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(63)]
    [InlineData(1420)]
    [InlineData(65535)]
    public void OpenSslChaCha20Poly1305_SealedInPlace_OpensWithLibsodiumAndBack(int size)
    {
        // The data path's AEAD (Keypair) is OpenSSL where libcrypto loads; wireguard-go and the NSec fallback must
        // read what it writes, in place, at every size a data message can have.
        Assert.True(OpenSslChaCha20Poly1305.IsSupported, "libcrypto.so.3 is part of the .NET runtime's dependencies on Linux");
        byte[] keyBytes = RandomNumberGenerator.GetBytes(32);
        byte[] nonce = Hex("000000000102030405060708");
        byte[] plain = RandomNumberGenerator.GetBytes(size);
        byte[] buffer = new byte[size + 16];
        plain.CopyTo(buffer, 0);
        using OpenSslChaCha20Poly1305 sealer = OpenSslChaCha20Poly1305.TryCreate(keyBytes, encrypt: true)!;
        using OpenSslChaCha20Poly1305 opener = OpenSslChaCha20Poly1305.TryCreate(keyBytes, encrypt: false)!;
        Assert.True(sealer.Seal(nonce, buffer.AsSpan(0, size), buffer));

        var aead = NSec.Cryptography.AeadAlgorithm.ChaCha20Poly1305;
        using var key = NSec.Cryptography.Key.Import(aead, keyBytes, NSec.Cryptography.KeyBlobFormat.RawSymmetricKey);
        byte[] viaSodium = aead.Encrypt(key, nonce, default, plain);
        Assert.Equal(viaSodium, buffer);

        Assert.True(opener.Open(nonce, buffer, buffer.AsSpan(0, size)));
        Assert.Equal(plain, buffer.AsSpan(0, size).ToArray());
    }

    [Fact]
    public void OpenSslChaCha20Poly1305_FlippedBitOrWrongNonce_Rejected()
    {
        byte[] keyBytes = RandomNumberGenerator.GetBytes(32);
        byte[] nonce = Hex("000000000102030405060708");
        using OpenSslChaCha20Poly1305 sealer = OpenSslChaCha20Poly1305.TryCreate(keyBytes, encrypt: true)!;
        using OpenSslChaCha20Poly1305 opener = OpenSslChaCha20Poly1305.TryCreate(keyBytes, encrypt: false)!;
        byte[] sealedText = new byte[Sunscreen.Length + 16];
        Assert.True(sealer.Seal(nonce, Sunscreen, sealedText));
        byte[] plain = new byte[Sunscreen.Length];
        for (int i = 0; i < sealedText.Length; i += 37)
        {
            byte[] forged = (byte[])sealedText.Clone();
            forged[i] ^= 0x01;
            Assert.False(opener.Open(nonce, forged, plain), "flipped byte " + i);
        }

        Assert.False(opener.Open(Hex("000000000102030405060709"), sealedText, plain));

        // A rejected message leaves the context usable: the genuine one still opens.
        Assert.True(opener.Open(nonce, sealedText, plain));
        Assert.Equal(Sunscreen, plain);
    }

    [Fact]
    public void OpenSslChaCha20Poly1305_Disposed_SealAndOpenFail()
    {
        byte[] keyBytes = RandomNumberGenerator.GetBytes(32);
        byte[] nonce = new byte[12];
        OpenSslChaCha20Poly1305 sealer = OpenSslChaCha20Poly1305.TryCreate(keyBytes, encrypt: true)!;
        OpenSslChaCha20Poly1305 opener = OpenSslChaCha20Poly1305.TryCreate(keyBytes, encrypt: false)!;
        byte[] sealedText = new byte[16 + 16];
        Assert.True(sealer.Seal(nonce, new byte[16], sealedText));
        sealer.Dispose();
        opener.Dispose();
        opener.Dispose();
        Assert.False(sealer.Seal(nonce, new byte[16], sealedText));
        Assert.False(opener.Open(nonce, sealedText, new byte[16]));
    }

    [Fact]
    public void Tai64N_LaterTime_ComparesGreater()
    {
        byte[] a = new byte[12], b = new byte[12];
        var now = new DateTimeOffset(2026, 11, 21, 12, 0, 0, TimeSpan.Zero);
        Tai64N.Write(now, a);
        Tai64N.Write(now.AddSeconds(1), b);
        Assert.Equal(0x40, a[0]);
        Assert.True(Tai64N.After(b, a));
        Assert.False(Tai64N.After(a, b));
        Assert.False(Tai64N.After(a, a));
    }
}
