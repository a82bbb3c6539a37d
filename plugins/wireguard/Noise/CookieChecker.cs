using System.Security.Cryptography;
using Gateway.Plugins.WireGuard.Crypto;

namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>
/// The responder's side of the cookie mechanism (whitepaper §5.4.7): checks mac1 and mac2 of handshake messages
/// sent to us and builds cookie replies. The cookie secret is replaced every COOKIE_REFRESH_TIME (2 minutes).
/// </summary>
internal sealed class CookieChecker
{
    private readonly LocalIdentity _local;
    private readonly TimeProvider _time;
    private readonly TimeSpan _refresh;
    private readonly byte[] _secret = new byte[32];
    private readonly Lock _lock = new();
    private long _secretSet;
    private bool _hasSecret;

    /// <summary>Creates the checker for messages addressed to <paramref name="local"/>.</summary>
    public CookieChecker(LocalIdentity local, TimeProvider time, TimeSpan cookieRefreshTime)
    {
        _local = local;
        _time = time;
        _refresh = cookieRefreshTime;
    }

    /// <summary>True when the message's mac1 is MAC(HASH(LABEL_MAC1 || our public), message[..mac1]).</summary>
    public bool CheckMac1(ReadOnlySpan<byte> message, int mac1Offset)
    {
        Span<byte> mac = stackalloc byte[16];
        Blake2s.Mac(_local.Mac1Key, message[..mac1Offset], mac);
        return CryptographicOperations.FixedTimeEquals(mac, message.Slice(mac1Offset, 16));
    }

    /// <summary>True when mac2 is valid for the cookie of <paramref name="source"/> (address and port bytes).</summary>
    public bool CheckMac2(ReadOnlySpan<byte> message, int mac2Offset, ReadOnlySpan<byte> source)
    {
        Span<byte> cookie = stackalloc byte[16];
        if (!CurrentCookie(source, cookie))
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[16];
        Blake2s.Mac(cookie, message[..mac2Offset], mac);
        return CryptographicOperations.FixedTimeEquals(mac, message.Slice(mac2Offset, 16));
    }

    /// <summary>Writes a 64-byte cookie reply to <paramref name="message"/> (whose mac1 is the associated data).</summary>
    public void CreateReply(ReadOnlySpan<byte> message, int mac1Offset, uint receiverIndex, ReadOnlySpan<byte> source, Span<byte> reply)
    {
        Span<byte> cookie = stackalloc byte[16];
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            if (!_hasSecret || _time.GetElapsedTime(_secretSet, now) >= _refresh)
            {
                RandomNumberGenerator.Fill(_secret);
                _secretSet = now;
                _hasSecret = true;
            }

            Blake2s.Mac(_secret, source, cookie);
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(reply, MessageFormat.TypeCookieReply);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(reply[MessageFormat.CookieReceiver..], receiverIndex);
        Span<byte> nonce = reply.Slice(MessageFormat.CookieNonce, XChaCha20Poly1305.NonceSize);
        RandomNumberGenerator.Fill(nonce);
        XChaCha20Poly1305.Encrypt(_local.CookieAead, nonce, cookie, reply.Slice(MessageFormat.CookieEncrypted, 16 + XChaCha20Poly1305.TagSize), message.Slice(mac1Offset, 16));
    }

    private bool CurrentCookie(ReadOnlySpan<byte> source, Span<byte> cookie)
    {
        lock (_lock)
        {
            if (!_hasSecret || _time.GetElapsedTime(_secretSet) >= _refresh)
            {
                return false;
            }

            Blake2s.Mac(_secret, source, cookie);
            return true;
        }
    }
}
