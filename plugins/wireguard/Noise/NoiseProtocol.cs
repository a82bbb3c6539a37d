using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Gateway.Plugins.WireGuard.Crypto;

namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>
/// The Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake as WireGuard instantiates it (whitepaper §5.4).
/// Stateless functions over a <see cref="Handshake"/>; the device supplies indices, lookups and policy.
/// </summary>
internal static class NoiseProtocol
{
    /// <summary>The Noise protocol name, hashed into the initial chaining key.</summary>
    public const string Construction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

    /// <summary>The WireGuard identifier, the Noise prologue.</summary>
    public const string Identifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";

    /// <summary>Label hashed with the responder's public key into the mac1 key.</summary>
    public const string LabelMac1 = "mac1----";

    /// <summary>Label hashed with the public key into the cookie encryption key.</summary>
    public const string LabelCookie = "cookie--";

    /// <summary>HASH(Construction).</summary>
    public static readonly byte[] InitialChainKey = ComputeInitialChainKey();

    /// <summary>HASH(InitialChainKey || Identifier).</summary>
    public static readonly byte[] InitialHash = ComputeInitialHash();

    private static readonly byte[] ZeroNonce = new byte[12];

    /// <summary>Writes the initiation (without mac1/mac2) and moves <paramref name="hs"/> to InitiationCreated.</summary>
    /// <returns>False when a DH result was all zero (a bad peer public key).</returns>
    public static bool CreateInitiation(LocalIdentity local, Handshake hs, uint senderIndex, DateTimeOffset now, Span<byte> message)
    {
        Span<byte> key = stackalloc byte[32];
        Span<byte> dh = stackalloc byte[32];
        try
        {
            BinaryPrimitives.WriteUInt32LittleEndian(message, MessageFormat.TypeInitiation);
            BinaryPrimitives.WriteUInt32LittleEndian(message[MessageFormat.InitiationSender..], senderIndex);

            InitialChainKey.CopyTo(hs.ChainKey, 0);
            Blake2s.Hash(InitialHash, hs.RemoteStatic, hs.Hash);

            hs.LocalEphemeralPrivate = Curve25519.GeneratePrivateKey();
            byte[] ephemeralPublic = Curve25519.PublicKey(hs.LocalEphemeralPrivate);
            ephemeralPublic.CopyTo(message[MessageFormat.InitiationEphemeral..]);
            MixKey(hs.ChainKey, ephemeralPublic);
            MixHash(hs.Hash, ephemeralPublic);

            if (!Curve25519.TryAgree(hs.LocalEphemeralPrivate, hs.RemoteStatic, dh))
            {
                return false;
            }

            Blake2s.Kdf(hs.ChainKey, dh, hs.ChainKey, key, default);
            Seal(key, local.PublicKey, message.Slice(MessageFormat.InitiationStatic, 48), hs.Hash);
            MixHash(hs.Hash, message.Slice(MessageFormat.InitiationStatic, 48));

            if (hs.IsStaticStaticZero)
            {
                return false;
            }

            Blake2s.Kdf(hs.ChainKey, hs.PrecomputedStaticStatic, hs.ChainKey, key, default);
            Span<byte> timestamp = stackalloc byte[Tai64N.Size];
            Tai64N.Write(now, timestamp);
            Seal(key, timestamp, message.Slice(MessageFormat.InitiationTimestamp, 28), hs.Hash);
            MixHash(hs.Hash, message.Slice(MessageFormat.InitiationTimestamp, 28));

            hs.LocalIndex = senderIndex;
            hs.State = HandshakeState.InitiationCreated;
            return true;
        }
        finally
        {
            key.Clear();
            dh.Clear();
        }
    }

    /// <summary>
    /// Decrypts an initiation's static key and timestamp. Does not touch any peer: the caller finds the peer by
    /// <see cref="InitiationResult.RemoteStatic"/>, applies the replay and flood checks, then calls <see cref="AcceptInitiation"/>.
    /// The static-static DH is recomputed here rather than taken from the peer, since the peer is not known yet.
    /// </summary>
    public static bool TryConsumeInitiation(LocalIdentity local, ReadOnlySpan<byte> message, out InitiationResult result)
    {
        result = new InitiationResult();
        Span<byte> key = stackalloc byte[32];
        Span<byte> dh = stackalloc byte[32];
        try
        {
            byte[] chainKey = (byte[])InitialChainKey.Clone();
            byte[] hash = new byte[32];
            Blake2s.Hash(InitialHash, local.PublicKey, hash);

            ReadOnlySpan<byte> ephemeral = message.Slice(MessageFormat.InitiationEphemeral, 32);
            MixKey(chainKey, ephemeral);
            MixHash(hash, ephemeral);

            if (!Curve25519.TryAgree(local.StaticKey, ephemeral, dh))
            {
                return false;
            }

            Blake2s.Kdf(chainKey, dh, chainKey, key, default);
            byte[] remoteStatic = new byte[32];
            if (!Open(key, message.Slice(MessageFormat.InitiationStatic, 48), remoteStatic, hash))
            {
                return false;
            }

            MixHash(hash, message.Slice(MessageFormat.InitiationStatic, 48));

            if (!Curve25519.TryAgree(local.StaticKey, remoteStatic, dh))
            {
                return false;
            }

            Blake2s.Kdf(chainKey, dh, chainKey, key, default);
            byte[] timestamp = new byte[Tai64N.Size];
            if (!Open(key, message.Slice(MessageFormat.InitiationTimestamp, 28), timestamp, hash))
            {
                return false;
            }

            MixHash(hash, message.Slice(MessageFormat.InitiationTimestamp, 28));

            result = new InitiationResult
            {
                RemoteStatic = remoteStatic,
                RemoteEphemeral = ephemeral.ToArray(),
                RemoteIndex = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.InitiationSender..]),
                Timestamp = timestamp,
                ChainKey = chainKey,
                Hash = hash,
            };
            return true;
        }
        finally
        {
            key.Clear();
            dh.Clear();
        }
    }

    /// <summary>Stores a verified initiation into the peer's handshake (state InitiationConsumed).</summary>
    public static void AcceptInitiation(Handshake hs, InitiationResult initiation)
    {
        initiation.ChainKey.CopyTo(hs.ChainKey, 0);
        initiation.Hash.CopyTo(hs.Hash, 0);
        hs.RemoteEphemeral = initiation.RemoteEphemeral;
        hs.RemoteIndex = initiation.RemoteIndex;
        initiation.Timestamp.CopyTo(hs.LatestTimestamp, 0);
        hs.State = HandshakeState.InitiationConsumed;
    }

    /// <summary>Writes the response (without mac1/mac2) to a consumed initiation; state ResponseCreated.</summary>
    public static bool CreateResponse(Handshake hs, uint senderIndex, Span<byte> message)
    {
        if (hs.State != HandshakeState.InitiationConsumed)
        {
            return false;
        }

        Span<byte> key = stackalloc byte[32];
        Span<byte> tau = stackalloc byte[32];
        Span<byte> dh = stackalloc byte[32];
        try
        {
            BinaryPrimitives.WriteUInt32LittleEndian(message, MessageFormat.TypeResponse);
            BinaryPrimitives.WriteUInt32LittleEndian(message[MessageFormat.ResponseSender..], senderIndex);
            BinaryPrimitives.WriteUInt32LittleEndian(message[MessageFormat.ResponseReceiver..], hs.RemoteIndex);

            hs.LocalEphemeralPrivate = Curve25519.GeneratePrivateKey();
            byte[] ephemeralPublic = Curve25519.PublicKey(hs.LocalEphemeralPrivate);
            ephemeralPublic.CopyTo(message[MessageFormat.ResponseEphemeral..]);
            MixKey(hs.ChainKey, ephemeralPublic);
            MixHash(hs.Hash, ephemeralPublic);

            if (!Curve25519.TryAgree(hs.LocalEphemeralPrivate, hs.RemoteEphemeral, dh))
            {
                return false;
            }

            MixKey(hs.ChainKey, dh);
            if (!Curve25519.TryAgree(hs.LocalEphemeralPrivate, hs.RemoteStatic, dh))
            {
                return false;
            }

            MixKey(hs.ChainKey, dh);
            Blake2s.Kdf(hs.ChainKey, hs.PresharedKey, hs.ChainKey, tau, key);
            MixHash(hs.Hash, tau);
            Seal(key, default, message.Slice(MessageFormat.ResponseEmpty, 16), hs.Hash);
            MixHash(hs.Hash, message.Slice(MessageFormat.ResponseEmpty, 16));

            hs.LocalIndex = senderIndex;
            hs.State = HandshakeState.ResponseCreated;
            return true;
        }
        finally
        {
            key.Clear();
            tau.Clear();
            dh.Clear();
        }
    }

    /// <summary>Consumes a response to our initiation (the caller matched the receiver index); state ResponseConsumed.</summary>
    public static bool TryConsumeResponse(LocalIdentity local, Handshake hs, ReadOnlySpan<byte> message)
    {
        if (hs.State != HandshakeState.InitiationCreated || hs.LocalEphemeralPrivate is null)
        {
            return false;
        }

        Span<byte> key = stackalloc byte[32];
        Span<byte> tau = stackalloc byte[32];
        Span<byte> dh = stackalloc byte[32];
        byte[] chainKey = (byte[])hs.ChainKey.Clone();
        byte[] hash = (byte[])hs.Hash.Clone();
        try
        {
            ReadOnlySpan<byte> ephemeral = message.Slice(MessageFormat.ResponseEphemeral, 32);
            MixKey(chainKey, ephemeral);
            MixHash(hash, ephemeral);

            if (!Curve25519.TryAgree(hs.LocalEphemeralPrivate, ephemeral, dh))
            {
                return false;
            }

            MixKey(chainKey, dh);
            if (!Curve25519.TryAgree(local.StaticKey, ephemeral, dh))
            {
                return false;
            }

            MixKey(chainKey, dh);
            Blake2s.Kdf(chainKey, hs.PresharedKey, chainKey, tau, key);
            MixHash(hash, tau);
            if (!Open(key, message.Slice(MessageFormat.ResponseEmpty, 16), default, hash))
            {
                return false;
            }

            MixHash(hash, message.Slice(MessageFormat.ResponseEmpty, 16));
            chainKey.CopyTo(hs.ChainKey, 0);
            hash.CopyTo(hs.Hash, 0);
            hs.RemoteEphemeral = ephemeral.ToArray();
            hs.RemoteIndex = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.ResponseSender..]);
            hs.State = HandshakeState.ResponseConsumed;
            return true;
        }
        finally
        {
            key.Clear();
            tau.Clear();
            dh.Clear();
            CryptographicOperations.ZeroMemory(chainKey);
        }
    }

    /// <summary>
    /// Derives the transport keys (whitepaper §5.4.5) from a finished handshake and wipes its secrets.
    /// The initiator sends with the first KDF output; the responder receives with it.
    /// </summary>
    public static bool TryDeriveKeys(Handshake hs, Span<byte> sendKey, Span<byte> receiveKey, out bool isInitiator)
    {
        isInitiator = hs.State == HandshakeState.ResponseConsumed;
        if (!isInitiator && hs.State != HandshakeState.ResponseCreated)
        {
            return false;
        }

        Span<byte> first = stackalloc byte[32];
        Span<byte> second = stackalloc byte[32];
        Blake2s.Kdf(hs.ChainKey, default, first, second, default);
        if (isInitiator)
        {
            first.CopyTo(sendKey);
            second.CopyTo(receiveKey);
        }
        else
        {
            first.CopyTo(receiveKey);
            second.CopyTo(sendKey);
        }

        first.Clear();
        second.Clear();
        hs.Clear();
        return true;
    }

    /// <summary>Writes mac1 = MAC(HASH(LABEL_MAC1 || receiver public), message[..mac1]) into the message.</summary>
    public static void WriteMac1(ReadOnlySpan<byte> mac1Key, Span<byte> message, int mac1Offset) =>
        Blake2s.Mac(mac1Key, message[..mac1Offset], message.Slice(mac1Offset, 16));

    /// <summary>HASH(label || publicKey): the mac1 or cookie key of a public key.</summary>
    public static byte[] LabelKey(string label, ReadOnlySpan<byte> publicKey)
    {
        byte[] result = new byte[32];
        Blake2s.Hash(Encoding.ASCII.GetBytes(label), publicKey, result);
        return result;
    }

    private static void MixHash(byte[] hash, ReadOnlySpan<byte> data) => Blake2s.Hash(hash, data, hash);

    private static void MixKey(byte[] chainKey, ReadOnlySpan<byte> data) => Blake2s.Kdf(chainKey, data, chainKey, default, default);

    // The handshake's AEAD keys are used for one message each, so key set-up dominates: the BCL's ChaCha20Poly1305
    // sets one up in 1/27 of NSec's CPU time (libsodium keys live in guarded memory), while NSec wins on the data
    // path where a key seals millions of packets (Device/Keypair.cs; BENCHMARKS.md "WireGuard crypto primitives").
    private static void Seal(ReadOnlySpan<byte> key, ReadOnlySpan<byte> plaintext, Span<byte> output, ReadOnlySpan<byte> ad)
    {
        using var aead = new ChaCha20Poly1305(key);
        aead.Encrypt(ZeroNonce, plaintext, output[..plaintext.Length], output.Slice(plaintext.Length, 16), ad);
    }

    private static bool Open(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input, Span<byte> plaintext, ReadOnlySpan<byte> ad)
    {
        using var aead = new ChaCha20Poly1305(key);
        try
        {
            aead.Decrypt(ZeroNonce, input[..^16], input[^16..], plaintext, ad);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private static byte[] ComputeInitialChainKey()
    {
        byte[] result = new byte[32];
        Blake2s.Hash(Encoding.ASCII.GetBytes(Construction), default, result);
        return result;
    }

    private static byte[] ComputeInitialHash()
    {
        byte[] result = new byte[32];
        Blake2s.Hash(InitialChainKey, Encoding.ASCII.GetBytes(Identifier), result);
        return result;
    }
}
