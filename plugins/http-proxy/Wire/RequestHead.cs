namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>A parsed request head: offsets into the head's bytes plus what the fields mean.</summary>
internal struct RequestHead
{
    /// <summary>Length of the method token (it starts at offset 0).</summary>
    public int MethodLength;

    /// <summary>Offset of the request-target.</summary>
    public int TargetStart;

    /// <summary>Length of the request-target.</summary>
    public int TargetLength;

    /// <summary>The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.</summary>
    public int MinorVersion;

    /// <summary>The header fields' meaning; the fields themselves are in the caller's array.</summary>
    public HeaderSummary Headers;

    /// <summary>The method is CONNECT (RFC 9110 §9.3.6).</summary>
    public bool IsConnect;

    /// <summary>The method is HEAD: the response has no content whatever its fields say (RFC 9110 §9.3.2).</summary>
    public bool IsHead;

    /// <summary>The request carries content (RFC 9112 §6.3: chunked, or Content-Length &gt; 0).</summary>
    public readonly bool HasBody => Headers.Chunked || Headers.ContentLength > 0;

    /// <summary>
    /// The request asks to switch protocols and may be forwarded as such (RFC 9110 §7.8): HTTP/1.1, an Upgrade
    /// field named in Connection, and no content (the switch happens right after the head, so a body could not
    /// be told apart from the new protocol's bytes). Otherwise Upgrade is dropped as any hop-by-hop field.
    /// </summary>
    public readonly bool IsUpgrade =>
        MinorVersion == 1 && Headers.HasUpgrade && Headers.ConnectionUpgrade && !IsConnect && !HasBody && !Headers.HasTransferEncoding;

    /// <summary>RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".</summary>
    public readonly bool KeepAlive => MinorVersion == 1 ? !Headers.ConnectionClose : Headers.ConnectionKeepAlive && !Headers.ConnectionClose;

    public readonly ReadOnlySpan<byte> Method(ReadOnlySpan<byte> head) => head[..MethodLength];

    public readonly ReadOnlySpan<byte> Target(ReadOnlySpan<byte> head) => head.Slice(TargetStart, TargetLength);
}
