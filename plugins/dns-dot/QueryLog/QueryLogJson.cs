using System.Text.Json;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// The one JSON shape of a logged query, written by the query log file and the admin API's <c>querylog</c> alike
/// (so the two can never disagree): <c>time</c> (RFC 3339 UTC), <c>client</c>, <c>transport</c>, <c>name</c>,
/// <c>type</c>, <c>rcode</c>, <c>answers</c>, <c>reason</c>, <c>blocked</c>, <c>upstream</c> (when one answered),
/// <c>latencyMs</c>, and <c>group</c> (the client's <c>clients:</c> group, when it has one).
/// </summary>
internal static class QueryLogJson
{
    /// <summary>Writes the entry of a client event.</summary>
    public static void Write(Utf8JsonWriter writer, QueryEvent entry, bool anonymize)
    {
        QueryRecord record = entry.Record;
        writer.WriteStartObject();
        // Both formatted into stack buffers: the writer thread runs once per answered query (issue 16's query log
        // on/off benchmark found it formatting through strings).
        Span<byte> time = stackalloc byte[TimeLength];
        FormatTime(EventClock.ToUtc(record.Started), time);
        writer.WriteString("time"u8, time);
        writer.WriteString("client"u8, MessageText.ClientChars(record.Client, anonymize, stackalloc char[MessageText.MaxClientChars]));
        writer.WriteString("transport"u8, record.Transport == DnsTransport.Udp ? "udp"u8 : "tcp"u8);
        Span<byte> name = stackalloc byte[DnsConstants.MaxPresentationLength];
        if (MessageText.TryQuestion(entry.Query, name, out int nameLength, out ushort type))
        {
            writer.WriteString("name"u8, name[..nameLength]);
            writer.WriteString("type"u8, MessageText.Type(type));
        }
        else
        {
            writer.WriteString("name"u8, ""u8);
            writer.WriteString("type"u8, ""u8);
        }

        writer.WriteString("rcode"u8, MessageText.Rcode(entry.Answer));
        writer.WriteStartArray("answers"u8);
        var answers = new MessageText.AnswerReader(entry.Answer);
        Span<byte> text = stackalloc byte[MessageText.AnswerReader.MaxText];
        while (answers.TryNext(text, out int length))
        {
            writer.WriteStringValue(text[..length]);
        }

        writer.WriteEndArray();
        writer.WriteString("reason"u8, record.Reason);
        writer.WriteBoolean("blocked"u8, record.Blocked);
        if (record.Upstream is { } upstream)
        {
            writer.WriteString("upstream"u8, upstream);
        }

        writer.WriteNumber("latencyMs"u8, Math.Round(EventClock.Milliseconds(record.Started, record.Finished), 3));
        if (record.ClientGroup is { } group)
        {
            writer.WriteString("group"u8, group);
        }

        writer.WriteEndObject();
    }

    /// <summary>Length of the RFC 3339 UTC time written by <see cref="FormatTime"/>: <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    internal const int TimeLength = 24;

    /// <summary>Writes <paramref name="utc"/> as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (ASCII) into the first 24 bytes of <paramref name="destination"/>.</summary>
    internal static void FormatTime(DateTime utc, Span<byte> destination) =>
        utc.TryFormat(destination[..TimeLength], out _, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
}
