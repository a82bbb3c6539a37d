namespace Gateway.Plugins.WireGuard.Device;

/// <summary>Why a packet or message was dropped (the <c>reason</c> tag of the drop counter).</summary>
internal enum DropReason
{
    /// <summary>Too short, an unknown type, a wrong size for its type, or a datagram larger than the buffer.</summary>
    Malformed,

    /// <summary>An outbound IP packet whose destination is in no peer's AllowedIPs.</summary>
    NoRoute,

    /// <summary>A data message for a session index we do not have (old session, or a forgery).</summary>
    UnknownIndex,

    /// <summary>A data message under a keypair older than REJECT_AFTER_TIME or past REJECT_AFTER_MESSAGES.</summary>
    KeyExpired,

    /// <summary>A data message that failed authentication or was a replay (whitepaper §5.4.6).</summary>
    Decryption,

    /// <summary>A decrypted packet whose source is not in the sending peer's AllowedIPs (whitepaper §2).</summary>
    AllowedIps,

    /// <summary>A handshake message with a wrong mac1 (not meant for our key).</summary>
    InvalidMac,

    /// <summary>Under load, a handshake message without a valid mac2: answered with a cookie reply instead.</summary>
    CookieRequired,

    /// <summary>Under load, a source over its handshake rate.</summary>
    RateLimited,

    /// <summary>An initiation that does not decrypt with our key or names an unknown peer; a response that does not match.</summary>
    HandshakeInvalid,

    /// <summary>An initiation with a replayed timestamp, or faster than one per REKEY_TIMEOUT/… (flood limit).</summary>
    HandshakeReplay,

    /// <summary>A packet pushed out of a full queue while waiting for a handshake.</summary>
    QueueFull,
}
