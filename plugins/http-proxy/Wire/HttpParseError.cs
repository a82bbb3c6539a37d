namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>Why a head could not be used; each maps to the status the client gets.</summary>
internal enum HttpParseError : byte
{
    None,

    /// <summary>Malformed start line, field line, or framing (400, RFC 9112 §2.2, §5, §6.3).</summary>
    Malformed,

    /// <summary>Content-Length and Transfer-Encoding conflict, or Content-Length values differ (400, RFC 9112 §6.3).</summary>
    ConflictingLength,

    /// <summary>Too many header fields (431, RFC 6585 §5).</summary>
    TooManyHeaders,

    /// <summary>An HTTP version other than 1.0 and 1.1 (505, RFC 9110 §15.6.6).</summary>
    UnsupportedVersion,
}
