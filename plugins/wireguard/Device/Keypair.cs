using System.Buffers.Binary;
using System.Security.Cryptography;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Plugins.WireGuard.Replay;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// One session's transport keys (whitepaper §5.4.6): a sending key with its counter and a receiving key with
/// its replay window. The BCL's ChaCha20Poly1305 instances are not thread-safe, so each direction has a lock.
/// </summary>
internal sealed class Keypair : IDisposable
{
    private readonly ChaCha20Poly1305 _send;
    private readonly ChaCha20Poly1305 _receive;
    private readonly Lock _sendLock = new();
    private readonly Lock _receiveLock = new();
    private readonly ReplayFilter _replay = new();
    private long _sendCounter = -1;
    private int _disposed;

    /// <summary>Creates the keypair.</summary>
    public Keypair(ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey, bool isInitiator, long created, uint localIndex, uint remoteIndex)
    {
        _send = new ChaCha20Poly1305(sendKey);
        _receive = new ChaCha20Poly1305(receiveKey);
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
    /// counter reached <paramref name="rejectAfterMessages"/>.
    /// </summary>
    public int Seal(Span<byte> message, ReadOnlySpan<byte> plaintext, ulong rejectAfterMessages, out ulong counter)
    {
        int plaintextLength = plaintext.Length;
        counter = (ulong)Interlocked.Increment(ref _sendCounter);
        if (counter >= rejectAfterMessages)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(message, MessageFormat.TypeData);
        BinaryPrimitives.WriteUInt32LittleEndian(message[MessageFormat.DataReceiver..], RemoteIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(message[MessageFormat.DataCounter..], counter);
        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
        Span<byte> ciphertext = message.Slice(MessageFormat.DataHeaderSize, plaintextLength);
        Span<byte> tag = message.Slice(MessageFormat.DataHeaderSize + plaintextLength, MessageFormat.TagSize);
        lock (_sendLock)
        {
            if (_disposed != 0)
            {
                return 0;
            }

            _send.Encrypt(nonce, plaintext, ciphertext, tag);
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
        if (counter >= rejectAfterMessages)
        {
            return -1;
        }

        Span<byte> nonce = stackalloc byte[12];
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], counter);
        int length = message.Length - MessageFormat.DataHeaderSize - MessageFormat.TagSize;
        Span<byte> ciphertext = message.Slice(MessageFormat.DataHeaderSize, length);
        lock (_receiveLock)
        {
            if (_disposed != 0)
            {
                return -1;
            }

            try
            {
                _receive.Decrypt(nonce, ciphertext, message[^MessageFormat.TagSize..], ciphertext);
            }
            catch (AuthenticationTagMismatchException)
            {
                return -1;
            }

            // The window is updated only after authentication (whitepaper §5.4.6), so forgeries cannot move it.
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

        lock (_sendLock)
        {
            _send.Dispose();
        }

        lock (_receiveLock)
        {
            _receive.Dispose();
        }
    }
}
