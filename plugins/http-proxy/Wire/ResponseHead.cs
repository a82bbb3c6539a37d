namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>A parsed response head: offsets into the head's bytes plus what the fields mean.</summary>
internal struct ResponseHead
{
    /// <summary>The status code (100-599).</summary>
    public int Status;

    /// <summary>The minor version of the origin's HTTP/1.x.</summary>
    public int MinorVersion;

    /// <summary>Offset of the status code: the status line from here on is forwarded after our own version (RFC 9110 §6.2).</summary>
    public int StatusStart;

    /// <summary>Offset just past the status line, before its CRLF.</summary>
    public int StatusLineEnd;

    /// <summary>The header fields' meaning.</summary>
    public HeaderSummary Headers;

    /// <summary>
    /// The framing is suspect although usable: Transfer-Encoding together with Content-Length (RFC 9112 §6.3 item 3), or
    /// Transfer-Encoding from an HTTP/1.0 origin (§6.1). The body is read by Transfer-Encoding, and the connection is
    /// closed after it, since the origin may have meant something else by the rest of its bytes.
    /// </summary>
    public readonly bool FaultyFraming => Headers.HasTransferEncoding && (Headers.ContentLengthLines > 0 || MinorVersion == 0);

    /// <summary>RFC 9112 §9.3: whether the origin keeps the connection open after this response.</summary>
    public readonly bool KeepAlive =>
        !FaultyFraming && (MinorVersion == 1 ? !Headers.ConnectionClose : Headers.ConnectionKeepAlive && !Headers.ConnectionClose);
}
