namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>
/// Why a head could not be used. Each has its own value so that the client is told exactly what was wrong and
/// the differential test can tell deliberate refusals apart (<see cref="HttpParseErrors"/> maps them to a status).
/// </summary>
internal enum HttpParseError : byte
{
    None,

    /// <summary>Malformed request or status line (400/502, RFC 9112 §3, §4).</summary>
    Malformed,

    /// <summary>A field line that is not token ":" value, or a value with control characters (400, RFC 9112 §5).</summary>
    MalformedField,

    /// <summary>Whitespace between a field name and its colon (400, RFC 9112 §5.1 requires it).</summary>
    WhitespaceBeforeColon,

    /// <summary>A field line starting with whitespace: obs-fold, which a proxy must refuse or replace (400, RFC 9112 §5.2).</summary>
    ObsFold,

    /// <summary>More than one Host field line (400, RFC 9112 §3.2 requires it).</summary>
    DuplicateHost,

    /// <summary>A Content-Length that is not 1*DIGIT, or longer than 18 digits (400, RFC 9110 §8.6).</summary>
    BadContentLength,

    /// <summary>Content-Length values that differ, or Content-Length with Transfer-Encoding in a request (400, RFC 9112 §6.3).</summary>
    ConflictingLength,

    /// <summary>Transfer-Encoding in an HTTP/1.0 request: faulty framing (400, RFC 9112 §6.1).</summary>
    TransferEncodingInHttp10,

    /// <summary>Transfer-Encoding whose final coding is not chunked, in a request (400, RFC 9112 §6.3 item 4).</summary>
    ChunkedNotFinal,

    /// <summary>chunked listed more than once, or not last (400/502, RFC 9112 §7).</summary>
    ChunkedTwice,

    /// <summary>A request transfer coding other than a single "chunked" (501, RFC 9112 §6.1).</summary>
    UnsupportedTransferCoding,

    /// <summary>
    /// Connection names Content-Length, Transfer-Encoding or Host (400): the message would be framed by a field the
    /// next hop never sees (RFC 9110 §7.6.1 lets a sender list only hop-by-hop fields there; issue #13).
    /// </summary>
    FramingFieldInConnection,

    /// <summary>Too many header fields (431, RFC 6585 §5).</summary>
    TooManyHeaders,

    /// <summary>An HTTP major version other than 1 (505, RFC 9110 §15.6.6).</summary>
    UnsupportedVersion,

    /// <summary>A line ends in a bare LF or has a bare CR (400, RFC 9112 §2.2: this proxy does not guess).</summary>
    BareLineBreak,
}
