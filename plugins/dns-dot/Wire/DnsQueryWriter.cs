using System.Buffers.Binary;

namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>
/// Writes the queries the gateway asks on its own behalf: a name from another plugin (the gateway's name resolver)
/// and the host names of upstream URLs (bootstrap). One question, RD set, and an OPT advertising 1232 bytes.
/// </summary>
internal static class DnsQueryWriter
{
    /// <summary>Room a query needs: header, the longest name, type and class, OPT.</summary>
    public const int MaxQuerySize = DnsConstants.HeaderSize + DnsConstants.MaxNameLength + 4 + DnsMessageWriter.OptSize;

    /// <summary>
    /// Writes a query for <paramref name="name"/> (presentation form, "a.example" or "a.example."; letters, digits,
    /// '-', '_' and '.' only) into <paramref name="destination"/> (at least <see cref="MaxQuerySize"/> bytes).
    /// Returns the length, or -1 when the name is not a valid host name.
    /// </summary>
    public static int Write(ReadOnlySpan<char> name, ushort type, ushort id, Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, id);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], DnsConstants.FlagRd);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], 1);
        int nameLength = EncodeName(name, destination[DnsConstants.HeaderSize..]);
        if (nameLength < 0)
        {
            return -1;
        }

        int position = DnsConstants.HeaderSize + nameLength;
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 2)..], DnsConstants.ClassIn);
        position += 4;
        destination[position] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 1)..], DnsConstants.TypeOpt);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 3)..], DnsConstants.DefaultUdpPayloadSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[(position + 5)..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(position + 9)..], 0);
        return position + DnsMessageWriter.OptSize;
    }

    /// <summary>Encodes a host name in wire form; -1 when a label is empty or longer than 63, the name longer than 255, or a character not allowed.</summary>
    public static int EncodeName(ReadOnlySpan<char> name, Span<byte> destination)
    {
        if (name.EndsWith('.'))
        {
            name = name[..^1];
        }

        if (name.IsEmpty || name.Length + 2 > DnsConstants.MaxNameLength)
        {
            return -1;
        }

        int position = 0;
        while (true)
        {
            int dot = name.IndexOf('.');
            ReadOnlySpan<char> label = dot < 0 ? name : name[..dot];
            if (label.IsEmpty || label.Length > 63)
            {
                return -1;
            }

            destination[position++] = (byte)label.Length;
            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
                {
                    return -1;
                }

                destination[position++] = (byte)c;
            }

            if (dot < 0)
            {
                break;
            }

            name = name[(dot + 1)..];
        }

        destination[position++] = 0;
        return position;
    }
}
