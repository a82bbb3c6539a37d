using System.Buffers;
using System.Text;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// Writes the query log's JSON straight into a UTF-8 buffer: literals as bytes, strings escaped per RFC 8259 §7.
/// The log's shape is fixed (<see cref="QueryLogJson"/>), so <see cref="System.Text.Json.Utf8JsonWriter"/>'s depth
/// and comma bookkeeping is not needed, and its per-call checks were measurable on the writer thread (issue 16's
/// query log on/off benchmark, BENCHMARKS.md). Escaping matches <c>JavaScriptEncoder.UnsafeRelaxedJsonEscaping</c>
/// for what the log writes: <c>"</c> and <c>\</c> escaped, control characters as <c>\n</c> … or <c>\u00XX</c>,
/// non-ASCII text as UTF-8 (unpaired surrogates as U+FFFD). The caller calls <see cref="Complete"/> once at the end.
/// </summary>
internal ref struct JsonLineWriter
{
    // Bytes that go into a JSON string as they are: printable ASCII except the quote and backslash, and the bytes
    // of multi-byte UTF-8 sequences (the callers' byte strings are ASCII or valid UTF-8). DEL is escaped as the
    // BCL's encoders do.
    private static readonly SearchValues<byte> PlainBytes = SearchValues.Create(PlainByteSet());
    private static readonly SearchValues<char> PlainChars = SearchValues.Create(" !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _position;

    public JsonLineWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = output.GetSpan(1024);
        _position = 0;
    }

    /// <summary>Bytes written and not yet committed to the output.</summary>
    public readonly int Pending => _position;

    /// <summary>Writes <paramref name="bytes"/> as they are (literals: property names, punctuation).</summary>
    public void Raw(scoped ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_span[_position..]);
        _position += bytes.Length;
    }

    /// <summary>Writes one byte as it is.</summary>
    public void Raw(byte value)
    {
        Ensure(1);
        _span[_position++] = value;
    }

    /// <summary>Writes the inside of a JSON string (no quotes) from ASCII or UTF-8 <paramref name="text"/>.</summary>
    public void Escaped(scoped ReadOnlySpan<byte> text)
    {
        while (!text.IsEmpty)
        {
            int plain = text.IndexOfAnyExcept(PlainBytes);
            if (plain < 0)
            {
                Raw(text);
                return;
            }

            Raw(text[..plain]);
            EscapeAscii((char)text[plain]);
            text = text[(plain + 1)..];
        }
    }

    /// <summary>Writes the inside of a JSON string (no quotes) from UTF-16 <paramref name="text"/>.</summary>
    public void Escaped(scoped ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            int plain = text.IndexOfAnyExcept(PlainChars);
            int run = plain < 0 ? text.Length : plain;
            Ensure(run);
            Ascii.FromUtf16(text[..run], _span[_position..], out int written);
            _position += written;
            if (plain < 0)
            {
                return;
            }

            text = text[run..];
            if (text[0] < 0x80)
            {
                EscapeAscii(text[0]);
                text = text[1..];
                continue;
            }

            // Non-ASCII: one scalar value as UTF-8; an unpaired surrogate becomes U+FFFD (Encoding.UTF8's choice).
            Rune.DecodeFromUtf16(text, out Rune rune, out int consumed);
            Ensure(4);
            _position += rune.EncodeToUtf8(_span[_position..]);
            text = text[consumed..];
        }
    }

    /// <summary>Writes a non-negative number of thousandths as the shortest decimal ("12", "0.5", "3.125").</summary>
    public void Thousandths(long value)
    {
        Ensure(24);
        long whole = Math.DivRem(value, 1000, out long fraction);
        whole.TryFormat(_span[_position..], out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        _position += written;
        if (fraction == 0)
        {
            return;
        }

        _span[_position++] = (byte)'.';
        _span[_position++] = (byte)('0' + (fraction / 100));
        fraction %= 100;
        if (fraction != 0)
        {
            _span[_position++] = (byte)('0' + (fraction / 10));
            fraction %= 10;
            if (fraction != 0)
            {
                _span[_position++] = (byte)('0' + fraction);
            }
        }
    }

    /// <summary>Gives <paramref name="bytes"/> of room at the current position for the caller to fill, then <see cref="Advance"/>.</summary>
    public Span<byte> Room(int bytes)
    {
        Ensure(bytes);
        return _span[_position..];
    }

    /// <summary>Counts <paramref name="bytes"/> written into <see cref="Room"/>.</summary>
    public void Advance(int bytes) => _position += bytes;

    /// <summary>Commits what was written to the output.</summary>
    public void Complete()
    {
        _output.Advance(_position);
        _position = 0;
        _span = default;
    }

    private void EscapeAscii(char c)
    {
        Ensure(6);
        _span[_position++] = (byte)'\\';
        switch (c)
        {
            case '"' or '\\':
                _span[_position++] = (byte)c;
                break;
            case '\n':
                _span[_position++] = (byte)'n';
                break;
            case '\r':
                _span[_position++] = (byte)'r';
                break;
            case '\t':
                _span[_position++] = (byte)'t';
                break;
            case '\b':
                _span[_position++] = (byte)'b';
                break;
            case '\f':
                _span[_position++] = (byte)'f';
                break;
            default:
                _span[_position++] = (byte)'u';
                _span[_position++] = (byte)'0';
                _span[_position++] = (byte)'0';
                _span[_position++] = (byte)"0123456789ABCDEF"[c >> 4];
                _span[_position++] = (byte)"0123456789ABCDEF"[c & 0xF];
                break;
        }
    }

    private void Ensure(int bytes)
    {
        if (_span.Length - _position < bytes)
        {
            _output.Advance(_position);
            _position = 0;
            _span = _output.GetSpan(Math.Max(bytes, 1024));
        }
    }

    private static byte[] PlainByteSet()
    {
        var bytes = new List<byte>();
        for (int b = 0x20; b < 0x100; b++)
        {
            if (b is not ('"' or '\\' or 0x7F))
            {
                bytes.Add((byte)b);
            }
        }

        return [.. bytes];
    }
}
