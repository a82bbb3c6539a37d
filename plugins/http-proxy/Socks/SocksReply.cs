namespace Gateway.Plugins.HttpProxy.Socks;

/// <summary>The REP field of a SOCKS5 reply (RFC 1928 §6).</summary>
internal enum SocksReply : byte
{
    Succeeded = 0,
    GeneralFailure = 1,

    /// <summary>"connection not allowed by ruleset": the client or the destination policy refused it.</summary>
    NotAllowed = 2,
    NetworkUnreachable = 3,
    HostUnreachable = 4,
    ConnectionRefused = 5,
    TtlExpired = 6,
    CommandNotSupported = 7,
    AddressTypeNotSupported = 8,
}
