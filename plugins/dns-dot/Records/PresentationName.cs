using System.Text;

namespace Gateway.Plugins.DnsDot.Records;

/// <summary>
/// Names as written in <c>records:</c> (RFC 1035 §5.1 without escapes, which host names do not need): checked,
/// normalized to the form rules see, and encoded to wire form.
/// </summary>
internal static class PresentationName
{
    /// <summary>
    /// Checks <paramref name="text"/> (trailing dot optional; '*' allowed only as the whole leftmost label when
    /// <paramref name="allowWildcard"/>) and returns it lower case without the trailing dot, or null with a reason.
    /// </summary>
    public static string? Normalize(string text, bool allowWildcard, out string? problem)
    {
        problem = null;
        string name = text.EndsWith('.') ? text[..^1] : text;
        if (name.Length == 0)
        {
            problem = "an empty name";
            return null;
        }

        if (name.Length > 253)
        {
            problem = "a name longer than 253 characters (RFC 1035 §2.3.4)";
            return null;
        }

        string[] labels = name.Split('.');
        for (int i = 0; i < labels.Length; i++)
        {
            string label = labels[i];
            if (label.Length == 0)
            {
                problem = $"'{text}' has an empty label";
                return null;
            }

            if (label.Length > 63)
            {
                problem = $"'{text}' has a label longer than 63 characters";
                return null;
            }

            if (label == "*")
            {
                if (i != 0 || !allowWildcard || labels.Length == 1)
                {
                    problem = $"'{text}': '*' is allowed only as the whole leftmost label of an owner (\"*.dev.home.test\")";
                    return null;
                }

                continue;
            }

            foreach (char c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    problem = $"'{text}' contains '{c}', which a host name cannot hold (letters, digits, '-' and '_'; IDNs in their xn-- form)";
                    return null;
                }
            }
        }

        return name.ToLowerInvariant();
    }

    /// <summary>The wire form of a normalized name ("a.b" → 01 'a' 01 'b' 00).</summary>
    public static byte[] ToWire(string normalized)
    {
        var bytes = new byte[normalized.Length + 2];
        int position = 0;
        foreach (string label in normalized.Split('.'))
        {
            bytes[position++] = (byte)label.Length;
            position += Encoding.ASCII.GetBytes(label, bytes.AsSpan(position));
        }

        bytes[position] = 0;
        return bytes;
    }
}
