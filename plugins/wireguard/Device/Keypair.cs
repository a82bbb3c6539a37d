using System.Buffers.Binary;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Plugins.WireGuard.Replay;
using NSec.Cryptography;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// One session's transport keys (whitepaper §5.4.6): a sending key with its counter and a receiving key with its
/// replay window. ChaCha20-Poly1305 comes from OpenSSL's EVP with the key schedule kept per keypair
/// (<see cref="OpenSslChaCha20Poly1305"/>: 0.9–1.0 µs per 1420-byte packet here against libsodium's 1.69, issue 21),
/// else from NSec.Cryptography (libsodium), which beat the BCL's per-call OpenSSL set-up in issue 19 and is the
/// fallback where libcrypto is missing (Windows). Each direction's OpenSSL context takes its own lock, so a sealing
/// thread and an opening thread never wait on each other; the replay window is serialised separately.
/// </summary>
internal sealed class Keypair : IDisposable
{
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;

    private readonly OpenSslChaCha20Poly1305? _sealer;
    private readonly OpenSslChaCha20Poly1305? _opener;
    private readonly Key? _send;
    private readonly Key? _receive;
    private readonly Lock _replayLock = new();
    private readonly ReplayFilter _replay = new();
    private long _sendCounter = -1;
    private int _disposed;

    /// <summary>Creates the keypair.</summary>
    public Keypair(ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey, bool isInitiator, long created, uint localIndex, uint remoteIndex)
    {
        _sealer = OpenSslChaCha20Poly1305.TryCreate(sendKey, encrypt: true);
        _opener = _sealer is null ? null : OpenSslChaCha20Poly1305.TryCreate(receiveKey, encrypt: false);
        if (_opener is null)
        {
            _sealer?.Dispose();
            _sealer = null;
            _send = Key.Import(Aead, sendKey, KeyBlobFormat.RawSymmetricKey);
            _receive = Key.Import(Aead, receiveKey, KeyBlobFormat.RawSymmetricKey);
        }
        IsInitiator = isInitiator;
        Created = created;
        LocalIndex = localIndex;
        RemoteIndex = remoteIndex;
    }

    /// <summary>True when we initiated the handshake that made this keypair (only the initiator rekeys on age).</summary>
    public bool IsInitiator { get; }

    /// <summary>When the keypair was derived (timestamp ticks).</summary>
    public long Created { get; }

    /// <summary>Our index: data messages to us carry it.</summary>
    public uint LocalIndex { get; }

    /// <summary>The peer's index: our data messages carry it.</summary>
    public uint RemoteIndex { get; }

    /// <summary>The next counter to be used (number of messages sent so far).</summary>
    public ulong SendCounter => (ulong)(Interlocked.Read(ref _sendCounter) + 1);

    /// <summary>Set once the peer proved it has the keypair (responder side) or from the start (initiator).</summary>
    public bool Confirmed { get; set; }

    /// <summary>
    /// Encrypts the plaintext at <paramref name="message"/>[16..16+plaintextLength] in place and writes the header.
    /// Returns the message length, or 0 when the counter reached <paramref name="rejectAfterMessages"/>.
    /// </summary>
    public int Seal(Span<byte> message, int plaintextLength, ulong rejectAfterMessages, out ulong counter) =>
        Seal(message, message.Slice(MessageFormat.DataHeaderSize, plaintextLength), rejectAfterMessages, out counter);

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> (already padded) into <paramref name="message"/>[16..] and writes the header:
    /// no copy of the plaintext first when it needs no padding. <paramref name="plaintext"/> may be that very slice
    /// (in place) but must not otherwise overlap <paramref name="message"/>. Returns the message length, or 0 when the
    /// counter reached <paramref name="rejectAfterMessages"/> or the keypair was erased.
    /// </summary>
    public int Seal(Span<byte> message, ReadOnlySpan<byte> plaintext, ulong rejectAfterMessages, out ulong counter)
    {
        int plaintextLength = plaintext.Length;
        counter = (ulong)Interlocked.Increment(ref _sendCounter);
        if (counter >= rejectAfterMessages || Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(message, MessageFormat.TypeData);
        BinaryPrimitives.WriteUInt32LittleEndian(message[MessageFormat.DataReceiver..], RemoteIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(message[MessageFormat.DataCounter..], counter);
        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
        // The ciphertext and its tag land right after the header (libsodium's combined mode is the wire format).
        Span<byte> sealedPart = message.Slice(MessageFormat.DataHeaderSize, plaintextLength + MessageFormat.TagSize);
        if (_sealer is not null)
        {
            // False only once Dispose freed the context (rekey, peer removed): nothing is sent.
            return _sealer.Seal(nonce, plaintext, sealedPart) ? MessageFormat.DataHeaderSize + plaintextLength + MessageFormat.TagSize : 0;
        }

        try
        {
            Aead.Encrypt(_send!, nonce, default, plaintext, sealedPart);
        }
        catch (ObjectDisposedException)
        {
            // Erased while this thread was sealing (rekey, peer removed): the key's handle is closed, nothing is sent.
            return 0;
        }

        return MessageFormat.DataHeaderSize + plaintextLength + MessageFormat.TagSize;
    }

    /// <summary>
    /// Decrypts a data message in place (the plaintext lands at message[16..]) and checks its counter against the
    /// replay window. Returns the plaintext length, or -1 for a forgery, a replay or a counter past the limit.
    /// </summary>
    public int Open(Span<byte> message, ulong rejectAfterMessages)
    {
        ulong counter = BinaryPrimitives.ReadUInt64LittleEndian(message[MessageFormat.DataCounter..]);
        if (counter >= rejectAfterMessages || Volatile.Read(ref _disposed) != 0)
        {
            return -1;
        }

        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
        int length = message.Length - MessageFormat.DataHeaderSize - MessageFormat.TagSize;
        Span<byte> sealedPart = message[MessageFormat.DataHeaderSize..];
        if (_opener is not null)
        {
            if (!_opener.Open(nonce, sealedPart, sealedPart[..length]))
            {
                return -1;
            }
        }
        else
        {
            try
            {
                if (!Aead.Decrypt(_receive!, nonce, default, sealedPart, sealedPart[..length]))
                {
                    return -1;
                }
            }
            catch (ObjectDisposedException)
            {
                return -1;
            }
        }

        // The window is updated only after authentication (whitepaper §5.4.6), so forgeries cannot move it.
        lock (_replayLock)
        {
            return _replay.ValidateCounter(counter, rejectAfterMessages) ? length : -1;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // OpenSSL: the context's lock lets a thread inside Seal/Open finish before the context is freed; later calls
        // fail. NSec: such a thread holds a reference on the key's handle (SafeHandle), later calls see it closed.
        _sealer?.Dispose();
        _opener?.Dispose();
        _send?.Dispose();
        _receive?.Dispose();
    }
}
