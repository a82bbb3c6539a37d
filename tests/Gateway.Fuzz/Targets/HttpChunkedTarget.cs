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
        if (input.IsEmpty)
        {
            return;
        }

        int seed = input[0];
        ReadOnlySpan<byte> body = input[1..];
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

    /// <summary>An independent decoder, line by line: chunk-size [chunk-ext] CRLF data CRLF ... 0 CRLF trailers CRLF.</summary>
    private static ChunkStatus Reference(ReadOnlySpan<byte> body, Span<byte> data, out int dataLength, out int end)
    {
        dataLength = 0;
        end = 0;
        int position = 0;
        while (true)
        {
            // The size line.
            int digits = 0;
            long size = 0;
            while (position + digits < body.Length && Uri.IsHexDigit((char)body[position + digits]))
            {
                if (digits == 15)
                {
                    return ChunkStatus.Invalid;
                }

                size = (size << 4) | (long)Convert.ToInt32(((char)body[position + digits]).ToString(), 16);
                digits++;
            }

            if (position + digits == body.Length)
            {
                return ChunkStatus.NeedMore;
            }

            if (digits == 0)
            {
                return ChunkStatus.Invalid;
            }

            int at = position + digits;
            if (body[at] != (byte)'\r')
            {
                if (body[at] is not ((byte)';' or (byte)' ' or (byte)'\t'))
                {
                    return ChunkStatus.Invalid;
                }

                int lineEnd = body[at..].IndexOfAny((byte)'\r', (byte)'\n');
                int extensionLength = lineEnd < 0 ? body.Length - at : lineEnd;
                if (digits + extensionLength - 1 > MaxLineLength)
                {
                    return ChunkStatus.Invalid;
                }

                if (lineEnd < 0)
                {
                    return ChunkStatus.NeedMore;
                }

                if (body[at + lineEnd] == (byte)'\n')
                {
                    return ChunkStatus.Invalid;
                }

                at += lineEnd;
            }

            if (at + 1 >= body.Length)
            {
                return ChunkStatus.NeedMore;
            }

            if (body[at + 1] != (byte)'\n')
            {
                return ChunkStatus.Invalid;
            }

            position = at + 2;
            if (size == 0)
            {
                break;
            }

            // The data and its CRLF.
            long available = body.Length - position;
            if (available < size)
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
            if (position >= body.Length)
            {
                return ChunkStatus.NeedMore;
            }

            if (body[position] == (byte)'\r')
            {
                if (position + 1 >= body.Length)
                {
                    return ChunkStatus.NeedMore;
                }

                if (body[position + 1] != (byte)'\n')
                {
                    return ChunkStatus.Invalid;
                }

                end = position + 2;
                return ChunkStatus.Done;
            }

            // A trailer line is a field line: a bare LF never ends or starts one (RFC 9112 §2.2, §7.1.2).
            if (body[position] == (byte)'\n')
            {
                return ChunkStatus.Invalid;
            }

            int rest = body[(position + 1)..].IndexOfAny((byte)'\r', (byte)'\n');
            int lineLength = 1 + (rest < 0 ? body.Length - position - 1 : rest);
            if (lineLength > MaxLineLength)
            {
                return ChunkStatus.Invalid;
            }

            if (rest < 0)
            {
                return ChunkStatus.NeedMore;
            }

            int cr = position + lineLength;
            if (body[cr] == (byte)'\n')
            {
                return ChunkStatus.Invalid;
            }

            if (cr + 1 >= body.Length)
            {
                return ChunkStatus.NeedMore;
            }

            if (body[cr + 1] != (byte)'\n')
            {
                return ChunkStatus.Invalid;
            }

            position = cr + 2;
        }
    }
}
