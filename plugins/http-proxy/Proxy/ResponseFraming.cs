namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>How a response body is delimited (RFC 9112 §6.3).</summary>
internal enum ResponseFraming : byte
{
    /// <summary>No body: HEAD, 204, 304, or Content-Length: 0.</summary>
    None,

    /// <summary>Content-Length bytes.</summary>
    Length,

    /// <summary>Chunked transfer coding.</summary>
    Chunked,

    /// <summary>Until the origin closes the connection.</summary>
    ToClose,
}
