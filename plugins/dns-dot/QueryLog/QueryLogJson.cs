using System.Buffers;
using System.Diagnostics;
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// The one JSON shape of a logged query, written by the query log file and the admin API's <c>querylog</c> alike
/// (so the two can never disagree): <c>time</c> (RFC 3339 UTC), <c>client</c>, <c>transport</c>, <c>name</c>,
/// <c>type</c>, <c>rcode</c>, <c>answers</c>, <c>reason</c>, <c>blocked</c>, <c>upstream</c> (when one answered),
/// <c>latencyMs</c>, and <c>group</c> (the client's <c>clients:</c> group, when it has one).
/// </summary>
internal static class QueryLogJson
{
    /// <summary>Length of the RFC 3339 UTC time written by <see cref="FormatTime"/>: <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    internal const int TimeLength = 24;

    // "yyyy-MM-ddTHH:mm:ss." of the last second formatted on this thread: a busy log writes many lines per second,
    // and DateTime's custom-format path parses the format on every call.
    [ThreadStatic]
    private static TimePrefix? t_prefix;

    /// <summary>Writes the entry of a client event as one JSON object (no line break) into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, QueryEvent entry, bool anonymize)
    {
        QueryRecord record = entry.Record;
        var json = new JsonLineWriter(output);
        json.Raw("{\"time\":\""u8);
        FormatTime(EventClock.ToUtc(record.Started), json.Room(TimeLength));
        json.Advance(TimeLength);
        json.Raw("\",\"client\":\""u8);
        json.Advance(MessageText.ClientText(record.Client, anonymize, json.Room(MessageText.MaxAddressBytes)));
        json.Raw(record.Transport == DnsTransport.Udp ? "\",\"transport\":\"udp\",\"name\":\""u8 : "\",\"transport\":\"tcp\",\"name\":\""u8);
        if (entry.TryGetQuestion(out ReadOnlySpan<byte> name, out ushort type))
        {
            // Presentation names are ASCII with \DDD escapes (RFC 1035 §5.1): the backslashes need JSON's own.
            json.Escaped(name);
            json.Raw("\",\"type\":\""u8);
            json.Advance(MessageText.TypeText(type, json.Room(MessageText.MaxTypeBytes)));
        }
        else
        {
            json.Raw("\",\"type\":\""u8);
        }

        json.Raw("\",\"rcode\":\""u8);
        json.Raw(MessageText.RcodeText(entry.Answer));
        json.Raw("\",\"answers\":["u8);
        var answers = new MessageText.AnswerReader(entry.Answer);
        Span<byte> text = stackalloc byte[MessageText.AnswerReader.MaxText];
        bool first = true;
        while (answers.TryNext(text, out int length))
        {
            json.Raw(first ? "\""u8 : ",\""u8);
            json.Escaped(text[..length]);
            json.Raw((byte)'"');
            first = false;
        }

        json.Raw("],\"reason\":\""u8);
        json.Escaped(record.Reason);
        json.Raw(record.Blocked ? "\",\"blocked\":true"u8 : "\",\"blocked\":false"u8);
        if (record.Upstream is { } upstream)
        {
            json.Raw(",\"upstream\":\""u8);
            json.Escaped(upstream);
            json.Raw((byte)'"');
        }

        json.Raw(",\"latencyMs\":"u8);
        // Milliseconds rounded to three decimals (microseconds), as Math.Round(ms, 3) printed shortest.
        long elapsed = Math.Max(0, record.Finished - record.Started);
        json.Thousandths((long)Math.Round(elapsed * 1_000_000.0 / Stopwatch.Frequency));
        if (record.ClientGroup is { } group)
        {
            json.Raw(",\"group\":\""u8);
            json.Escaped(group);
            json.Raw((byte)'"');
        }

        json.Raw((byte)'}');
        json.Complete();
    }

    /// <summary>Writes <paramref name="utc"/> as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (ASCII) into the first 24 bytes of <paramref name="destination"/>.</summary>
    internal static void FormatTime(DateTime utc, Span<byte> destination)
    {
        const int PrefixLength = 20;
        long second = utc.Ticks / TimeSpan.TicksPerSecond;
        TimePrefix prefix = t_prefix ??= new TimePrefix();
        if (prefix.Second != second)
        {
            utc.TryFormat(destination[..TimeLength], out _, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            destination[..PrefixLength].CopyTo(prefix.Text);
            prefix.Second = second;
            return;
        }

        prefix.Text.CopyTo(destination);
        int milliseconds = (int)(utc.Ticks / TimeSpan.TicksPerMillisecond % 1000);
        destination[PrefixLength] = (byte)('0' + (milliseconds / 100));
        destination[PrefixLength + 1] = (byte)('0' + (milliseconds / 10 % 10));
        destination[PrefixLength + 2] = (byte)('0' + (milliseconds % 10));
        destination[PrefixLength + 3] = (byte)'Z';
    }

    private sealed class TimePrefix
    {
        public long Second = long.MinValue;
        public byte[] Text = new byte[20];
    }
}
