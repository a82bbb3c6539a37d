namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>What the header section says about framing and the connection (RFC 9112 §6, §9).</summary>
internal struct HeaderSummary
{
    /// <summary>Number of entries filled in the caller's field array.</summary>
    public int Count;

    /// <summary>The Content-Length value, or -1 when absent.</summary>
    public long ContentLength;

    /// <summary>A Transfer-Encoding field is present.</summary>
    public bool HasTransferEncoding;

    /// <summary>The final transfer coding is chunked (RFC 9112 §6.3 item 4).</summary>
    public bool Chunked;

    /// <summary>Transfer codings listed, over every Transfer-Encoding field line (RFC 9112 §6.1: a later line continues the list).</summary>
    public int TransferCodings;

    /// <summary>How many of <see cref="TransferCodings"/> are "chunked" (RFC 9112 §7: it must be applied once, last).</summary>
    public int ChunkedCodings;

    /// <summary>Content-Length field lines seen (all with the same value, or the head was refused).</summary>
    public int ContentLengthLines;

    /// <summary>
    /// Connection names a field that frames or routes the message (Content-Length, Transfer-Encoding, Host).
    /// Such a field is never hop-by-hop: dropping it while relaying the body by its length is request smuggling
    /// (issue #13), so the message is refused.
    /// </summary>
    public bool ConnectionNamesFramingField;

    /// <summary>Connection: close.</summary>
    public bool ConnectionClose;

    /// <summary>Connection: keep-alive (HTTP/1.0 persistence, RFC 9112 §9.3 and Appendix C.2.2).</summary>
    public bool ConnectionKeepAlive;

    /// <summary>Connection lists the "upgrade" option (RFC 9110 §7.8).</summary>
    public bool ConnectionUpgrade;

    /// <summary>An Upgrade field with a non-empty value is present (RFC 9110 §7.8).</summary>
    public bool HasUpgrade;

    /// <summary>Expect: 100-continue (RFC 9110 §10.1.1).</summary>
    public bool ExpectContinue;

    /// <summary>The transfer codings are exactly "chunked": the only list a request may carry here (RFC 9112 §6.1: 501 otherwise).</summary>
    public readonly bool OnlyChunked => TransferCodings == 1 && ChunkedCodings == 1;

    /// <summary>Index of the first Host field, or -1.</summary>
    public int HostIndex;
}
