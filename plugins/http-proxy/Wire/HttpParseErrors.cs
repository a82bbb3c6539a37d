namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>What a client is answered for each <see cref="HttpParseError"/> of its request.</summary>
internal static class HttpParseErrors
{
    /// <summary>The status code for a request refused with <paramref name="error"/>.</summary>
    public static int Status(HttpParseError error) => error switch
    {
        HttpParseError.TooManyHeaders => 431,
        HttpParseError.UnsupportedVersion => 505,
        HttpParseError.UnsupportedTransferCoding => 501,
        _ => 400,
    };

    /// <summary>The reason given in the body of the answer (one line, says what to fix).</summary>
    public static string Describe(HttpParseError error, int maxHeaderCount) => error switch
    {
        HttpParseError.Malformed => "malformed request line (RFC 9112 section 3)",
        HttpParseError.MalformedField => "malformed header field line (RFC 9112 section 5)",
        HttpParseError.WhitespaceBeforeColon => "whitespace between a field name and its colon (RFC 9112 section 5.1)",
        HttpParseError.ObsFold => "a field line starts with whitespace (obs-fold, RFC 9112 section 5.2)",
        HttpParseError.DuplicateHost => "more than one Host field (RFC 9112 section 3.2)",
        HttpParseError.BadContentLength => "Content-Length is not a number (RFC 9110 section 8.6)",
        HttpParseError.ConflictingLength => "conflicting message framing (Content-Length / Transfer-Encoding, RFC 9112 section 6.3)",
        HttpParseError.TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 section 6.1)",
        HttpParseError.ChunkedNotFinal => "the final transfer coding of a request must be chunked (RFC 9112 section 6.3)",
        HttpParseError.ChunkedTwice => "chunked may be applied once only (RFC 9112 section 7)",
        HttpParseError.UnsupportedTransferCoding => "only the chunked transfer coding is supported in requests (RFC 9112 section 6.1)",
        // Issue #13: dropping Content-Length as hop-by-hop while relaying the body by it smuggles the body to the
        // origin as a request of its own.
        HttpParseError.FramingFieldInConnection =>
            "Connection names Content-Length, Transfer-Encoding or Host; those frame the message and are never hop-by-hop (RFC 9112 section 6.1)",
        HttpParseError.TooManyHeaders => $"more than {maxHeaderCount} header fields (maxHeaderCount)",
        HttpParseError.UnsupportedVersion => "only HTTP/1.x is supported",
        HttpParseError.BareLineBreak => "a line of the request head ends without CRLF (bare LF or CR, RFC 9112 section 2.2)",
        _ => "bad request",
    };
}
