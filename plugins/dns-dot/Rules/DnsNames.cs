namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>Normalizes names written in scripts and block lists to the form <see cref="DnsQuery.NameBytes"/> uses.</summary>
internal static class DnsNames
{
    /// <summary>Lower case, no trailing dot; throws for empty names, whitespace, wildcards and empty labels.</summary>
    /// <exception cref="ArgumentException">The text is not a domain name.</exception>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string trimmed = name.Trim();
        if (trimmed.EndsWith('.'))
        {
            trimmed = trimmed[..^1];
        }

        if (!TryValidate(trimmed, out string? problem))
        {
            throw new ArgumentException($"'{name}' is not a domain name: {problem}", nameof(name));
        }

        return trimmed.ToLowerInvariant();
    }

    /// <summary>Checks a trimmed name without a trailing dot.</summary>
    public static bool TryValidate(ReadOnlySpan<char> name, out string? problem)
    {
        problem = null;
        if (name.IsEmpty)
        {
            problem = "it is empty";
        }
        else if (name.Length > 253)
        {
            problem = "it is longer than 253 characters (RFC 1035 §2.3.4)";
        }
        else if (name.StartsWith("*."))
        {
            problem = "wildcards are not needed: a name always covers its subdomains";
        }
        else if (name.ContainsAny(" \t\r\n/:") || !System.Text.Ascii.IsValid(name))
        {
            problem = "it contains a character that is not allowed in a name (use the IDNA/punycode form)";
        }
        else if (name.StartsWith('.') || name.Contains("..", StringComparison.Ordinal))
        {
            problem = "it has an empty label";
        }

        return problem is null;
    }
}
