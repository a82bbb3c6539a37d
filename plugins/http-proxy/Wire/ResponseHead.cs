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

    /// <summary>RFC 9112 §9.3: whether the origin keeps the connection open after this response.</summary>
    public readonly bool KeepAlive => MinorVersion == 1 ? !Headers.ConnectionClose : Headers.ConnectionKeepAlive && !Headers.ConnectionClose;
}
