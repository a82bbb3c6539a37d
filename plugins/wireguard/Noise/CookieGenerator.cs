using System.Security.Cryptography;
using Gateway.Plugins.WireGuard.Crypto;

namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>
/// The initiator's side of the cookie mechanism for one peer (whitepaper §5.4.7): adds mac1 and, while a fresh
/// cookie is held, mac2 to our handshake messages, and takes cookies from the peer's cookie replies.
/// </summary>
internal sealed class CookieGenerator
{
    private readonly byte[] _mac1Key;
    private readonly NSec.Cryptography.Key _cookieKey;
    private readonly TimeProvider _time;
    private readonly TimeSpan _refresh;
    private readonly byte[] _cookie = new byte[16];
    private readonly byte[] _lastMac1 = new byte[16];
    private readonly Lock _lock = new();
    private long _cookieSet;
    private bool _hasCookie;
    private bool _hasLastMac1;

    /// <summary>Creates the generator for messages sent to the peer with <paramref name="peerPublicKey"/>.</summary>
    public CookieGenerator(ReadOnlySpan<byte> peerPublicKey, TimeProvider time, TimeSpan cookieRefreshTime)
    {
        _mac1Key = NoiseProtocol.LabelKey(NoiseProtocol.LabelMac1, peerPublicKey);
        byte[] cookieKey = NoiseProtocol.LabelKey(NoiseProtocol.LabelCookie, peerPublicKey);
        _cookieKey = XChaCha20Poly1305.ImportKey(cookieKey);
        CryptographicOperations.ZeroMemory(cookieKey);
        _time = time;
        _refresh = cookieRefreshTime;
    }

    /// <summary>Writes mac1 and mac2 (zeros without a fresh cookie) into a 148- or 92-byte handshake message.</summary>
    public void AddMacs(Span<byte> message)
    {
        int mac1 = message.Length - 32;
        int mac2 = message.Length - 16;
        lock (_lock)
        {
            Blake2s.Mac(_mac1Key, message[..mac1], message.Slice(mac1, 16));
            message.Slice(mac1, 16).CopyTo(_lastMac1);
            _hasLastMac1 = true;
            if (_hasCookie && _time.GetElapsedTime(_cookieSet) < _refresh)
            {
                Blake2s.Mac(_cookie, message[..mac2], message.Slice(mac2, 16));
            }
            else
            {
                message.Slice(mac2, 16).Clear();
            }
        }
    }

    /// <summary>Takes the cookie from a 64-byte cookie reply; false when it does not decrypt against our last mac1.</summary>
    public bool ConsumeReply(ReadOnlySpan<byte> reply)
    {
        lock (_lock)
        {
            if (!_hasLastMac1)
            {
                return false;
            }

            Span<byte> cookie = stackalloc byte[16];
            if (!XChaCha20Poly1305.TryDecrypt(_cookieKey, reply.Slice(MessageFormat.CookieNonce, 24), reply.Slice(MessageFormat.CookieEncrypted, 16 + XChaCha20Poly1305.TagSize), cookie, _lastMac1))
            {
                return false;
            }

            cookie.CopyTo(_cookie);
            _cookieSet = _time.GetTimestamp();
            _hasCookie = true;
            _hasLastMac1 = false;
            CryptographicOperations.ZeroMemory(cookie);
            return true;
        }
    }
}
