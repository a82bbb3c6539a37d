namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>Whether a response may be stored by a shared cache, and if not, the rule of RFC 9111 §3 that forbids it.</summary>
internal enum StoreVerdict : byte
{
    Store,

    /// <summary>Only GET responses are stored.</summary>
    Method,

    /// <summary>Not a final status, a 304, or neither cacheable by default nor with explicit freshness.</summary>
    Status,

    /// <summary>A Range request or a 206.</summary>
    Partial,

    /// <summary>no-store in the request or the response (§5.2.1.5, §5.2.2.5).</summary>
    NoStore,

    /// <summary>private (§5.2.2.7).</summary>
    Private,

    /// <summary>The request had Authorization and the response is not public, s-maxage or must-revalidate (§3.5).</summary>
    Authorization,

    /// <summary>Vary: * (§4.1).</summary>
    VaryStar,

    /// <summary>Set-Cookie.</summary>
    SetCookie,
}
