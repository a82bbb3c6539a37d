namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>The header fields a proxy must interpret or remove (RFC 9110 §7.6.1, RFC 9112 §6-7).</summary>
internal enum KnownHeader : byte
{
    /// <summary>An end-to-end field, forwarded as is.</summary>
    None,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    KeepAlive,
    ProxyConnection,
    ProxyAuthorization,
    Te,
    Trailer,
    Upgrade,
    Expect,
}
