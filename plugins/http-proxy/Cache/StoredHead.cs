using System.Buffers;
using System.Text;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// Writes the head kept in a <see cref="CacheEntry"/>: our status line and the response's end-to-end fields,
/// without the ones a hit writes itself (Content-Length is added by the fill, Age and this hop's Via and
/// connection fields by the session).
/// </summary>
internal static class StoredHead
{
    /// <summary>Writes the stored head of a response received from the origin.</summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> head, in ResponseHead response, ReadOnlySpan<HeaderField> fields)
    {
        writer.Write("HTTP/1.1 "u8);
        writer.Write(head[response.StatusStart..response.StatusLineEnd]);
        writer.Write(response.StatusLineEnd - response.StatusStart == 3 ? " \r\n"u8 : "\r\n"u8);
        foreach (ref readonly HeaderField field in fields)
        {
            if (IsKept(head, fields, field))
            {
                writer.Write(field.Line(head));
                writer.Write("\r\n"u8);
            }
        }
    }

    /// <summary>
    /// Writes the head of a stored response freshened by a 304 (RFC 9111 §3.2, §4.3.4): the stored fields,
    /// each replaced by the 304's fields of the same name, then the 304's other fields. The stored
    /// Content-Length is kept (the 304 describes the same content).
    /// </summary>
    public static void Merge(IBufferWriter<byte> writer, ReadOnlySpan<byte> stored, ReadOnlySpan<HeaderField> storedFields,
        ReadOnlySpan<byte> update, ReadOnlySpan<HeaderField> updateFields)
    {
        int statusLineEnd = stored.IndexOf("\r\n"u8) + 2;
        writer.Write(stored[..statusLineEnd]);
        foreach (ref readonly HeaderField field in storedFields)
        {
            if (field.Known == KnownHeader.ContentLength || !Contains(update, updateFields, field.Name(stored)))
            {
                writer.Write(field.Line(stored));
                writer.Write("\r\n"u8);
            }
        }

        foreach (ref readonly HeaderField field in updateFields)
        {
            if (field.Known != KnownHeader.ContentLength && IsKept(update, updateFields, field))
            {
                writer.Write(field.Line(update));
                writer.Write("\r\n"u8);
            }
        }
    }

    private static bool IsKept(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, in HeaderField field) =>
        field.Known != KnownHeader.ContentLength &&
        !Ascii.EqualsIgnoreCase(field.Name(head), "Age"u8) &&
        !HeadWriter.IsHopByHop(head, fields, field);

    private static bool Contains(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields, ReadOnlySpan<byte> name)
    {
        foreach (ref readonly HeaderField field in fields)
        {
            if (Ascii.EqualsIgnoreCase(field.Name(head), name))
            {
                return true;
            }
        }

        return false;
    }
}
