namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>One header field line of a parsed head, as offsets into the head's bytes (no copies).</summary>
internal struct HeaderField
{
    /// <summary>Offset of the field name (also the start of the line).</summary>
    public int NameStart;

    /// <summary>Length of the field name.</summary>
    public int NameLength;

    /// <summary>Offset of the value, leading and trailing whitespace removed (RFC 9112 §5.1).</summary>
    public int ValueStart;

    /// <summary>Length of the trimmed value.</summary>
    public int ValueLength;

    /// <summary>Offset just past the line's last byte, before its CRLF.</summary>
    public int LineEnd;

    /// <summary>Which hop-by-hop or framing field this is, if any.</summary>
    public KnownHeader Known;

    public readonly ReadOnlySpan<byte> Name(ReadOnlySpan<byte> head) => head.Slice(NameStart, NameLength);

    public readonly ReadOnlySpan<byte> Value(ReadOnlySpan<byte> head) => head.Slice(ValueStart, ValueLength);

    public readonly ReadOnlySpan<byte> Line(ReadOnlySpan<byte> head) => head[NameStart..LineEnd];
}
