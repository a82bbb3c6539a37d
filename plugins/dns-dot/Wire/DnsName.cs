namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>
/// Domain names in wire form (RFC 1035 §3.1, §4.1.4): skipping and reading with compression pointers,
/// case-insensitive comparison and the presentation form rules see. Hand-written: no DNS library is
/// available to us (see ISSUES issue 4).
/// </summary>
internal static class DnsName
{
    /// <summary>
    /// Finds the end of the name at <paramref name="offset"/> (the offset after it in place: after its
    /// first pointer, or after its root label). Follows pointers only to check they are valid:
    /// a pointer must point strictly backwards (so loops and forward pointers are rejected) and the
    /// expanded name must stay within 255 bytes.
    /// </summary>
    public static bool TrySkip(ReadOnlySpan<byte> message, int offset, out int end) =>
        TryExpand(message, offset, Span<byte>.Empty, out _, out end);

    /// <summary>
    /// Expands the name at <paramref name="offset"/> into <paramref name="destination"/> (uncompressed
    /// wire form, original case) unless the destination is empty, in which case it only validates.
    /// </summary>
    public static bool TryExpand(ReadOnlySpan<byte> message, int offset, Span<byte> destination, out int length, out int end)
    {
        length = 0;
        end = -1;
        int position = offset;
        // The lowest offset we may still jump to: every pointer must go strictly below the label it is in,
        // which bounds the number of jumps and rules out loops (RFC 9267 §2).
        int limit = offset;
        // Where the first pointer is: a pointer refers to a prior occurrence of a name (RFC 1035 §4.1.4), so every
        // byte read after it lies before it. Else a "name" could run on into later records, or into an OPT we strip
        // (found by fuzzing).
        int prior = int.MaxValue;
        bool jumped = false;
        bool write = !destination.IsEmpty;
        while (true)
        {
            if ((uint)position >= (uint)message.Length)
            {
                return false;
            }

            byte label = message[position];
            switch (label & 0xC0)
            {
                case 0x00:
                    if (length + 1 + label > DnsConstants.MaxNameLength || position + 1 + label > Math.Min(message.Length, prior))
                    {
                        return false;
                    }

                    if (write)
                    {
                        message.Slice(position, 1 + label).CopyTo(destination[length..]);
                    }

                    length += 1 + label;
                    position += 1 + label;
                    if (label == 0)
                    {
                        if (!jumped)
                        {
                            end = position;
                        }

                        return true;
                    }

                    break;
                case 0xC0:
                    if (position + 1 >= message.Length)
                    {
                        return false;
                    }

                    int target = ((label & 0x3F) << 8) | message[position + 1];
                    if (!jumped)
                    {
                        end = position + 2;
                        prior = position;
                        jumped = true;
                    }

                    // A pointer into the header is no name (RFC 1035 §4.1.4; RFC 9267 §2): the id and flags we rewrite
                    // for the client would change it after we read it (found by fuzzing).
                    if (target >= limit || target < DnsConstants.HeaderSize)
                    {
                        return false;
                    }

                    limit = target;
                    position = target;
                    break;
                default:
                    // 0x40 and 0x80: extended label types (RFC 6891 §5) are obsolete and unsupported.
                    return false;
            }
        }
    }

    /// <summary>Compares two names in uncompressed wire form, ignoring ASCII case (RFC 4343).</summary>
    public static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && ToLower(a[i]) != ToLower(b[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Writes the presentation form rules see: lower case, dots between labels, no trailing dot ("" for
    /// the root), any byte other than a letter, digit, '-', '_' or '*' escaped as \DDD (RFC 1035 §5.1).
    /// </summary>
    /// <returns>The number of bytes written, or -1 if <paramref name="wireName"/> is malformed.</returns>
    public static int ToPresentation(ReadOnlySpan<byte> wireName, Span<byte> destination)
    {
        int written = 0;
        int position = 0;
        while (position < wireName.Length)
        {
            int label = wireName[position++];
            if (label == 0)
            {
                return written;
            }

            if (label > 63 || position + label > wireName.Length)
            {
                return -1;
            }

            if (written > 0)
            {
                destination[written++] = (byte)'.';
            }

            for (int i = 0; i < label; i++)
            {
                byte c = ToLower(wireName[position + i]);
                if (c is (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_' or (byte)'*')
                {
                    destination[written++] = c;
                }
                else
                {
                    destination[written++] = (byte)'\\';
                    destination[written++] = (byte)('0' + (c / 100));
                    destination[written++] = (byte)('0' + (c / 10 % 10));
                    destination[written++] = (byte)('0' + (c % 10));
                }
            }

            position += label;
        }

        return -1;
    }

    /// <summary>ASCII lower case (RFC 4343: only A–Z fold).</summary>
    public static byte ToLower(byte b) => (uint)(b - 'A') <= 'Z' - 'A' ? (byte)(b | 0x20) : b;
}
