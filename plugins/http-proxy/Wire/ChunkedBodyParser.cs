namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>Outcome of one <see cref="ChunkedBodyParser.Advance"/> call.</summary>
internal enum ChunkStatus : byte
{
    /// <summary>All input consumed (or a data run reported); call again with more bytes.</summary>
    NeedMore,

    /// <summary>The last chunk and the trailer section were read: the body is complete.</summary>
    Done,

    /// <summary>Bad chunk framing (RFC 9112 §7.1): the message cannot be delimited.</summary>
    Invalid,
}

/// <summary>Why a chunked body was refused (<see cref="ChunkedBodyParser.Error"/>).</summary>
internal enum ChunkError : byte
{
    None,

    /// <summary>A chunk-size line that is not hex digits followed by extensions or CRLF.</summary>
    BadSize,

    /// <summary>A chunk size of more than 15 significant hex digits (2^60 bytes and up).</summary>
    SizeTooLarge,

    /// <summary>A chunk extension outside the RFC 9112 §7.1.1 grammar (no BWS, a token name, a token or quoted value).</summary>
    BadExtension,

    /// <summary>Chunk data not followed by CRLF: the size did not match the data.</summary>
    BadDataEnd,

    /// <summary>A trailer line that is not a field line (RFC 9112 §7.1.2), or a missing final CRLF.</summary>
    BadTrailer,

    /// <summary>A Content-Length or Transfer-Encoding trailer field (RFC 9110 §6.5.1).</summary>
    FramingTrailer,

    /// <summary>A size line or trailer line longer than 4096 bytes.</summary>
    LineTooLong,
}

/// <summary>
/// Incremental parser for the chunked transfer coding (RFC 9112 §7.1). It validates framing while the
/// caller streams the bytes: a proxy passes chunked bodies through as they are (so it forwards the
/// consumed bytes), or forwards only the data runs when the next hop cannot take chunked.
/// </summary>
internal struct ChunkedBodyParser
{
    // Longest chunk-size line (size + extensions) and trailer line accepted; like Kestrel's limits,
    // this keeps a peer from making us scan without end.
    private const int MaxLineLength = 4096;

    // RFC 9110 §5.6.2 tchar, as a 128-bit map (bit b set when byte b is a tchar).
    private static readonly UInt128 s_tchar = TcharMap();

    private State _state;
    private long _remaining;
    private int _lineLength;
    private int _digits;
    private int _significant;

    // While a trailer field name is read: which framing names (bit 0 Content-Length, bit 1 Transfer-Encoding) it
    // still matches, case-insensitively, and how many bytes of it were seen.
    private int _nameMatch;

    /// <remarks>
    /// The grammar is RFC 9112 §7.1 without the whitespace it keeps only "for historical reasons" (BWS, which a
    /// sender must not generate): every byte of a size line and of a trailer line is checked, because the bytes
    /// are passed on as received and the next hop must read the same chunk boundaries as we do (issue #13).
    /// </remarks>
    private enum State : byte
    {
        Size,
        ExtensionName,
        ExtensionNameMore,
        ExtensionValue,
        ExtensionToken,
        ExtensionQuoted,
        ExtensionQuotedEscape,
        ExtensionAfterQuoted,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerName,
        TrailerValue,
        TrailerLf,
        FinalLf,
        Done,
    }

    /// <summary>Why the body was refused, once <see cref="Advance"/> returned <see cref="ChunkStatus.Invalid"/>.</summary>
    public ChunkError Error { get; private set; }

    /// <summary>True once the whole body, trailers included, has been seen.</summary>
    public readonly bool IsDone => _state == State.Done;

    /// <summary>
    /// Parses from <paramref name="input"/>, stopping after the first data run so the caller can forward it.
    /// <paramref name="consumed"/> bytes were used; <paramref name="dataOffset"/>/<paramref name="dataLength"/>
    /// locate chunk data inside them (length 0 when none).
    /// </summary>
    public ChunkStatus Advance(ReadOnlySpan<byte> input, out int consumed, out int dataOffset, out int dataLength)
    {
        dataOffset = 0;
        dataLength = 0;
        int i = 0;
        while (i < input.Length)
        {
            byte b = input[i];
            State next;
            switch (_state)
            {
                case State.Size:
                    int hex = HexValue(b);
                    if (hex >= 0)
                    {
                        // 15 significant hex digits (2^60) is far beyond any real body and cannot overflow a long;
                        // leading zeros count toward the line length only.
                        if (++_lineLength > MaxLineLength || ((_remaining != 0 || hex != 0) && ++_significant > 15))
                        {
                            Error = _significant > 15 ? ChunkError.SizeTooLarge : ChunkError.LineTooLong;
                            consumed = i;
                            return ChunkStatus.Invalid;
                        }

                        _digits = 1;
                        _remaining = (_remaining << 4) | (uint)hex;
                        i++;
                        continue;
                    }

                    next = _digits == 0 ? State.Done : b switch
                    {
                        (byte)'\r' => State.SizeLf,
                        (byte)';' => State.ExtensionName,
                        _ => State.Done,
                    };
                    break;
                case State.ExtensionName:
                    // chunk-ext-name = token (RFC 9112 §7.1.1); unknown extensions are ignored, as the RFC requires.
                    next = IsTchar(b) ? State.ExtensionNameMore : State.Done;
                    break;
                case State.ExtensionNameMore:
                    next = IsTchar(b) ? State.ExtensionNameMore : b switch
                    {
                        (byte)'=' => State.ExtensionValue,
                        (byte)';' => State.ExtensionName,
                        (byte)'\r' => State.SizeLf,
                        _ => State.Done,
                    };
                    break;
                case State.ExtensionValue:
                    next = b == (byte)'"' ? State.ExtensionQuoted : IsTchar(b) ? State.ExtensionToken : State.Done;
                    break;
                case State.ExtensionToken:
                    next = IsTchar(b) ? State.ExtensionToken : b switch
                    {
                        (byte)';' => State.ExtensionName,
                        (byte)'\r' => State.SizeLf,
                        _ => State.Done,
                    };
                    break;
                case State.ExtensionQuoted:
                    // RFC 9110 §5.6.4 qdtext: HTAB, SP, VCHAR but '"' and '\', obs-text.
                    next = b switch
                    {
                        (byte)'"' => State.ExtensionAfterQuoted,
                        (byte)'\\' => State.ExtensionQuotedEscape,
                        _ => IsFieldByte(b) ? State.ExtensionQuoted : State.Done,
                    };
                    break;
                case State.ExtensionQuotedEscape:
                    next = IsFieldByte(b) ? State.ExtensionQuoted : State.Done;
                    break;
                case State.ExtensionAfterQuoted:
                    next = b switch
                    {
                        (byte)';' => State.ExtensionName,
                        (byte)'\r' => State.SizeLf,
                        _ => State.Done,
                    };
                    break;
                case State.SizeLf:
                    if (b != (byte)'\n')
                    {
                        Error = ChunkError.BadSize;
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    i++;
                    _digits = 0;
                    _significant = 0;
                    _lineLength = 0;
                    _state = _remaining == 0 ? State.TrailerLineStart : State.Data;
                    continue;
                case State.Data:
                    int run = (int)Math.Min(_remaining, input.Length - i);
                    dataOffset = i;
                    dataLength = run;
                    _remaining -= run;
                    i += run;
                    if (_remaining == 0)
                    {
                        _state = State.DataCr;
                    }

                    consumed = i;
                    return ChunkStatus.NeedMore;
                case State.DataCr:
                    next = b == (byte)'\r' ? State.DataLf : State.Done;
                    break;
                case State.DataLf:
                    next = b == (byte)'\n' ? State.Size : State.Done;
                    _lineLength = 0;
                    break;
                case State.TrailerLineStart:
                    // RFC 9112 §7.1.2: trailer field lines (field-name ":" field-value; no obs-fold), then an empty line.
                    _lineLength = 0;
                    _nameMatch = 0b11;
                    next = b == (byte)'\r' ? State.FinalLf : IsTchar(b) ? State.TrailerName : State.Done;
                    MatchFramingName(b, 0);
                    break;
                case State.TrailerName:
                    if (b == (byte)':')
                    {
                        // RFC 9110 §6.5.1: framing fields have no meaning as trailers; an origin that merges trailers
                        // into the header section could still act on them, so they are refused (as llhttp does).
                        next = IsFramingName(_lineLength) ? State.Done : State.TrailerValue;
                        break;
                    }

                    next = IsTchar(b) ? State.TrailerName : State.Done;
                    MatchFramingName(b, _lineLength);
                    break;
                case State.TrailerValue:
                    next = b == (byte)'\r' ? State.TrailerLf : IsFieldByte(b) ? State.TrailerValue : State.Done;
                    break;
                case State.TrailerLf:
                    next = b == (byte)'\n' ? State.TrailerLineStart : State.Done;
                    break;
                case State.FinalLf:
                    if (b != (byte)'\n')
                    {
                        Error = ChunkError.BadTrailer;
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    _state = State.Done;
                    consumed = i + 1;
                    return ChunkStatus.Done;
                default:
                    consumed = i;
                    return ChunkStatus.Done;
            }

            // State.Done stands for "invalid" in the transitions above: the body can't be delimited. A line's length
            // counts its content, not its CRLF.
            if (next == State.Done || (b is not ((byte)'\r' or (byte)'\n') && ++_lineLength > MaxLineLength))
            {
                Error = next != State.Done ? ChunkError.LineTooLong : _state switch
                {
                    State.Size => ChunkError.BadSize,
                    State.DataCr or State.DataLf => ChunkError.BadDataEnd,
                    State.TrailerName when b == (byte)':' => ChunkError.FramingTrailer,
                    State.TrailerLineStart or State.TrailerName or State.TrailerValue or State.TrailerLf => ChunkError.BadTrailer,
                    _ => ChunkError.BadExtension,
                };
                consumed = i;
                return ChunkStatus.Invalid;
            }

            _state = next;
            i++;
        }

        consumed = i;
        return _state == State.Done ? ChunkStatus.Done : ChunkStatus.NeedMore;
    }

    private static ReadOnlySpan<byte> ContentLengthName => "content-length"u8;

    private static ReadOnlySpan<byte> TransferEncodingName => "transfer-encoding"u8;

    private void MatchFramingName(byte b, int index)
    {
        byte lower = (byte)(b | 0x20);
        if (index >= ContentLengthName.Length || ContentLengthName[index] != lower)
        {
            _nameMatch &= ~1;
        }

        if (index >= TransferEncodingName.Length || TransferEncodingName[index] != lower)
        {
            _nameMatch &= ~2;
        }
    }

    private readonly bool IsFramingName(int length) =>
        ((_nameMatch & 1) != 0 && length == ContentLengthName.Length) || ((_nameMatch & 2) != 0 && length == TransferEncodingName.Length);

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private static bool IsTchar(byte b) => b < 128 && ((s_tchar >> b) & UInt128.One) != UInt128.Zero;

    /// <summary>A byte allowed in a field value or quoted string: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5).</summary>
    private static bool IsFieldByte(byte b) => b == (byte)'\t' || (b >= 0x20 && b != 0x7F);

    private static UInt128 TcharMap()
    {
        UInt128 map = UInt128.Zero;
        foreach (byte b in "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8)
        {
            map |= UInt128.One << b;
        }

        return map;
    }
}
