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

    private State _state;
    private long _remaining;
    private int _lineLength;
    private int _digits;

    private enum State : byte
    {
        Size,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerLine,
        TrailerLf,
        FinalLf,
        Done,
    }

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
            switch (_state)
            {
                case State.Size:
                    int hex = HexValue(b);
                    if (hex >= 0)
                    {
                        // 15 hex digits (2^60) is far beyond any real body and cannot overflow a long.
                        if (++_digits > 15)
                        {
                            consumed = i;
                            return ChunkStatus.Invalid;
                        }

                        _remaining = (_remaining << 4) | (uint)hex;
                        i++;
                        break;
                    }

                    if (_digits == 0)
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    if (b == (byte)'\r')
                    {
                        _state = State.SizeLf;
                    }
                    else if (b is (byte)';' or (byte)' ' or (byte)'\t')
                    {
                        // chunk-ext (RFC 9112 §7.1.1), with BWS; ignored, as the RFC requires of unknown ones.
                        _state = State.Extension;
                        _lineLength = _digits;
                    }
                    else
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    i++;
                    break;
                case State.Extension:
                    if (b == (byte)'\r')
                    {
                        _state = State.SizeLf;
                    }
                    else if (b == (byte)'\n' || ++_lineLength > MaxLineLength)
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    i++;
                    break;
                case State.SizeLf:
                    if (b != (byte)'\n')
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    i++;
                    _digits = 0;
                    _state = _remaining == 0 ? State.TrailerLineStart : State.Data;
                    break;
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
                    if (b != (byte)'\r')
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    _state = State.DataLf;
                    i++;
                    break;
                case State.DataLf:
                    if (b != (byte)'\n')
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    _state = State.Size;
                    i++;
                    break;
                case State.TrailerLineStart:
                    // RFC 9112 §7.1.2: trailer field lines, then an empty line.
                    if (b == (byte)'\r')
                    {
                        _state = State.FinalLf;
                    }
                    else if (b == (byte)'\n')
                    {
                        // A bare LF here would end the body for a lenient next hop while we read on: the bytes after
                        // it would be a smuggled request there (RFC 9112 §2.2, §11.2; found by fuzzing).
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }
                    else
                    {
                        _state = State.TrailerLine;
                        _lineLength = 1;
                    }

                    i++;
                    break;
                case State.TrailerLine:
                    if (b == (byte)'\r')
                    {
                        _state = State.TrailerLf;
                    }
                    else if (b == (byte)'\n' || ++_lineLength > MaxLineLength)
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    i++;
                    break;
                case State.TrailerLf:
                    if (b != (byte)'\n')
                    {
                        consumed = i;
                        return ChunkStatus.Invalid;
                    }

                    _state = State.TrailerLineStart;
                    i++;
                    break;
                case State.FinalLf:
                    if (b != (byte)'\n')
                    {
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
        }

        consumed = i;
        return _state == State.Done ? ChunkStatus.Done : ChunkStatus.NeedMore;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
