using System.Text;
using Gateway.Plugins.HttpProxy.Wire;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// The chunked transfer-coding parser (plugins/http-proxy/Wire/ChunkedBodyParser). The first input byte chooses how
/// the rest is cut into reads (as a socket would deliver it); the rest is the body as sent.
/// </summary>
/// <remarks>
/// Invariants: the outcome (complete, invalid or incomplete), the data and the end of the body do not depend on
/// how the bytes were split across reads, and agree with an independent line-by-line decoder written from RFC 9112
/// §7.1 here; the bytes after a complete body are never consumed (they are the next pipelined request).
/// </remarks>
internal sealed class HttpChunkedTarget : IFuzzTarget
{
    // The parser's line limit (chunk-size line with extensions, and each trailer line).
    private const int MaxLineLength = 4096;

    private readonly byte[] _whole = new byte[1 << 17];
    private readonly byte[] _split = new byte[1 << 17];

    public string Name => "http-chunked";

    public string Description => "chunked bodies: split-invariant, agrees with a reference decoder (RFC 9112 §7.1)";

    public void Run(ReadOnlySpan<byte> input)
    {
        // Even an empty input runs the parser: afl-fuzz refuses a target whose first run covers nothing.
        int seed = input.IsEmpty ? 0 : input[0];
        ReadOnlySpan<byte> body = input.IsEmpty ? default : input[1..];
        ChunkStatus whole = Parse(body, int.MaxValue, 0, _whole, out int wholeData, out int wholeEnd);
        ChunkStatus split = Parse(body, 1 + (seed & 0x0F), seed >> 4, _split, out int splitData, out int splitEnd);
        Check(whole == split, $"the outcome depends on the read sizes ({whole} whole, {split} split)");
        Check(_whole.AsSpan(0, wholeData).SequenceEqual(_split.AsSpan(0, splitData)), "the data depends on the read sizes");
        Check(whole != ChunkStatus.Done || wholeEnd == splitEnd, "the end of the body depends on the read sizes");

        ChunkStatus reference = Reference(body, _split, out int referenceData, out int referenceEnd);
        Check(whole == reference, $"the parser says {whole}, the reference decoder {reference}");
        if (whole == ChunkStatus.Done)
        {
            Check(wholeEnd == referenceEnd, "the body ends elsewhere than the reference decoder says");
            Check(_whole.AsSpan(0, wholeData).SequenceEqual(_split.AsSpan(0, referenceData)), "the data differs from the reference decoder's");
        }
    }

    /// <summary>Feeds <paramref name="body"/> in reads of <paramref name="step"/> bytes (growing by <paramref name="growth"/>).</summary>
    private static ChunkStatus Parse(ReadOnlySpan<byte> body, int step, int growth, Span<byte> data, out int dataLength, out int end)
    {
        var parser = default(ChunkedBodyParser);
        dataLength = 0;
        end = 0;
        int position = 0;
        while (position < body.Length)
        {
            int readEnd = (int)Math.Min(body.Length, (long)position + step);
            step += growth;
            ReadOnlySpan<byte> read = body[position..readEnd];
            while (!read.IsEmpty)
            {
                ChunkStatus status = parser.Advance(read, out int consumed, out int offset, out int length);
                Check(consumed >= 0 && consumed <= read.Length && offset >= 0 && offset + length <= consumed, "Advance reported bytes outside its input");
                read.Slice(offset, length).CopyTo(data[dataLength..]);
                dataLength += length;
                position += consumed;
                read = read[consumed..];
                if (status != ChunkStatus.NeedMore)
                {
                    end = position;
                    Check(status != ChunkStatus.Done || parser.IsDone, "Done without IsDone");
                    return status;
                }

                if (consumed == 0 && length == 0)
                {
                    throw new FuzzInvariantException("NeedMore with input left but nothing consumed");
                }
            }
        }

        return ChunkStatus.NeedMore;
    }

    /// <summary>
    /// An independent decoder, line by line: chunk-size [chunk-ext] CRLF data CRLF ... 0 CRLF trailers CRLF, each line
    /// judged whole against RFC 9112 §7.1 as this proxy reads it (no BWS; 15 significant hex digits; extensions
    /// ";" token ["=" token / quoted-string]; trailer lines token ":" value, never Content-Length or
    /// Transfer-Encoding; line content at most 4096 bytes). A line cut short by the end of the input is NeedMore
    /// when what there is could still become a valid line, Invalid otherwise.
    /// </summary>
    private static ChunkStatus Reference(ReadOnlySpan<byte> body, Span<byte> data, out int dataLength, out int end)
    {
        dataLength = 0;
        end = 0;
        int position = 0;
        while (true)
        {
            ChunkStatus line = TakeLine(body, ref position, SizeLine, out ReadOnlySpan<byte> sizeLine);
            if (line != ChunkStatus.Done)
            {
                return line;
            }

            long size = 0;
            foreach (byte b in sizeLine)
            {
                if (!Uri.IsHexDigit((char)b))
                {
                    break;
                }

                size = (size << 4) | (long)Convert.ToInt32(((char)b).ToString(), 16);
            }

            if (size == 0)
            {
                break;
            }

            // The data and its CRLF.
            if (body.Length - position < size)
            {
                return ChunkStatus.NeedMore;
            }

            body.Slice(position, (int)size).CopyTo(data[dataLength..]);
            dataLength += (int)size;
            position += (int)size;
            if (position < body.Length && body[position] != (byte)'\r')
            {
                return ChunkStatus.Invalid;
            }

            if (position + 1 < body.Length && body[position + 1] != (byte)'\n')
            {
                return ChunkStatus.Invalid;
            }

            if (position + 2 > body.Length)
            {
                return ChunkStatus.NeedMore;
            }

            position += 2;
        }

        // Trailer lines, then the empty line.
        while (true)
        {
            ChunkStatus line = TakeLine(body, ref position, TrailerLine, out ReadOnlySpan<byte> trailer);
            if (line != ChunkStatus.Done)
            {
                return line;
            }

            if (trailer.IsEmpty)
            {
                end = position;
                return ChunkStatus.Done;
            }
        }
    }

    /// <summary>
    /// Takes the line at <paramref name="position"/> (content up to CRLF): Done with the position after its CRLF, NeedMore
    /// when the input ends inside a line that can still be valid, Invalid when it cannot (bad content, a bare CR or LF,
    /// content over 4096 bytes).
    /// </summary>
    private static ChunkStatus TakeLine(ReadOnlySpan<byte> body, ref int position, Func<byte[], bool, bool> valid, out ReadOnlySpan<byte> line)
    {
        line = default;
        ReadOnlySpan<byte> rest = body[position..];
        int cr = rest.IndexOfAny((byte)'\r', (byte)'\n');
        ReadOnlySpan<byte> content = cr < 0 ? rest : rest[..cr];
        if (content.Length > MaxLineLength)
        {
            return ChunkStatus.Invalid;
        }

        if (cr < 0)
        {
            return valid(content.ToArray(), false) ? ChunkStatus.NeedMore : ChunkStatus.Invalid;
        }

        if (rest[cr] == (byte)'\n' || !valid(content.ToArray(), true))
        {
            return ChunkStatus.Invalid;
        }

        if (cr + 1 == rest.Length)
        {
            return ChunkStatus.NeedMore;
        }

        if (rest[cr + 1] != (byte)'\n')
        {
            return ChunkStatus.Invalid;
        }

        line = content;
        position += cr + 2;
        return ChunkStatus.Done;
    }

    /// <summary>A size line (or, when not <paramref name="whole"/>, the start of one): 1*HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] ).</summary>
    private static bool SizeLine(byte[] line, bool whole)
    {
        int i = 0;
        while (i < line.Length && Uri.IsHexDigit((char)line[i]))
        {
            i++;
        }

        int significant = line.AsSpan(0, i).TrimStart((byte)'0').Length;
        if (significant > 15)
        {
            return false;
        }

        if (i == line.Length)
        {
            return !whole || i > 0;
        }

        if (i == 0)
        {
            return false;
        }

        while (i < line.Length)
        {
            if (line[i++] != (byte)';')
            {
                return false;
            }

            int name = Token(line, ref i);
            if (i == line.Length)
            {
                return !whole || name > 0;
            }

            if (name == 0)
            {
                return false;
            }

            if (line[i] == (byte)';')
            {
                continue;
            }

            if (line[i++] != (byte)'=')
            {
                return false;
            }

            if (i == line.Length)
            {
                return !whole;
            }

            if (line[i] == (byte)'"')
            {
                // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4).
                i++;
                bool closed = false;
                while (i < line.Length && !closed)
                {
                    byte b = line[i++];
                    if (b == (byte)'"')
                    {
                        closed = true;
                    }
                    else if (b == (byte)'\\')
                    {
                        if (i == line.Length)
                        {
                            return !whole;
                        }

                        if (!IsFieldByte(line[i++]))
                        {
                            return false;
                        }
                    }
                    else if (!IsFieldByte(b))
                    {
                        return false;
                    }
                }

                if (!closed)
                {
                    return !whole;
                }
            }
            else if (Token(line, ref i) == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A trailer line (or the start of one): empty (the end), or token ":" *field-byte, not a framing field.</summary>
    private static bool TrailerLine(byte[] line, bool whole)
    {
        int i = 0;
        int name = Token(line, ref i);
        if (i == line.Length)
        {
            // A name still being received, or the empty line that ends the trailers.
            return !whole || name == 0;
        }

        if (name == 0 || line[i] != (byte)':')
        {
            return false;
        }

        string field = Encoding.ASCII.GetString(line, 0, name);
        if (field.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || field.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        for (i++; i < line.Length; i++)
        {
            if (!IsFieldByte(line[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Skips a run of tchar (RFC 9110 §5.6.2) and returns its length.</summary>
    private static int Token(byte[] line, ref int i)
    {
        int start = i;
        while (i < line.Length && (char.IsAsciiLetterOrDigit((char)line[i]) || "!#$%&'*+-.^_`|~".Contains((char)line[i], StringComparison.Ordinal)))
        {
            i++;
        }

        return i - start;
    }

    private static bool IsFieldByte(byte b) => b == (byte)'\t' || (b >= 0x20 && b != 0x7F);
}
