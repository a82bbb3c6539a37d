using System.Globalization;

namespace Gateway.Host.Observability;

/// <summary>
/// Hashing, matching and formatting of measurement tags without allocating: the measurement callback runs
/// on packet and query paths. A tag value is identified by its invariant text (so 53 and "53" are the same
/// label value, as they would be in Prometheus), and series keep only that text, never the value object —
/// a boxed enum from a plugin would otherwise keep the plugin's AssemblyLoadContext alive.
/// </summary>
internal static class TagValues
{
    // Longer formatted values (rare: a long custom ToString) fall back to an allocating ToString.
    private const int StackFormatLength = 128;

    /// <summary>An order-independent hash of the tag set (a sum of per-tag hashes), so callers may pass tags in any order.</summary>
    public static int Hash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        int hash = tags.Length;
        Span<char> buffer = stackalloc char[StackFormatLength];
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            hash += HashCode.Combine(string.GetHashCode(tag.Key.AsSpan()), string.GetHashCode(Text(tag.Value, buffer)));
        }

        return hash;
    }

    /// <summary>Whether <paramref name="tags"/> (any order) is exactly the stored tag set (sorted keys and their texts).</summary>
    public static bool Matches(string[] keys, string[] values, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (keys.Length != tags.Length)
        {
            return false;
        }

        Span<char> buffer = stackalloc char[StackFormatLength];
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            int index = Array.IndexOf(keys, tag.Key);
            if (index < 0 || !Text(tag.Value, buffer).SequenceEqual(values[index]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Copies the tags as text, sorted by key (ordinal), for a new series.</summary>
    public static (string[] Keys, string[] Values) ToSortedText(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var keys = new string[tags.Length];
        var values = new string[tags.Length];
        Span<char> buffer = stackalloc char[StackFormatLength];
        for (int i = 0; i < tags.Length; i++)
        {
            keys[i] = tags[i].Key;
            values[i] = Text(tags[i].Value, buffer).ToString();
        }

        Array.Sort(keys, values, StringComparer.Ordinal);
        return (keys, values);
    }

    /// <summary>The invariant text of a tag value; formats into <paramref name="buffer"/> when it can.</summary>
    private static ReadOnlySpan<char> Text(object? value, Span<char> buffer)
    {
        switch (value)
        {
            case null:
                return ReadOnlySpan<char>.Empty;
            case string text:
                return text;
            case bool flag:
                // Prometheus and statsd conventions are lower case; bool.ToString() is "True".
                return flag ? "true" : "false";
            case ISpanFormattable formattable when formattable.TryFormat(buffer, out int written, default, CultureInfo.InvariantCulture):
                return buffer[..written];
            case IFormattable formattable:
                return formattable.ToString(null, CultureInfo.InvariantCulture);
            default:
                return value.ToString();
        }
    }
}
