namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// A set of domain names for use inside <c>Rule(...)</c> lambdas: <see cref="Contains"/> is true for a query
/// whose name is one of the names or a subdomain of one (on label boundaries), without allocating.
/// Create it once in the script with <c>Names(...)</c> or <c>NamesFromFile(...)</c>, outside the lambda.
/// </summary>
public sealed class NameSet
{
    private readonly NameSuffixMap<bool> _map;

    internal NameSet(IEnumerable<string> names)
    {
        Dictionary<string, bool> dictionary = NameSuffixMap<bool>.CreateDictionary();
        foreach (string name in names)
        {
            dictionary[DnsNames.Normalize(name)] = true;
        }

        _map = new NameSuffixMap<bool>(dictionary);
    }

    /// <summary>The number of names in the set.</summary>
    public int Count => _map.Count;

    /// <summary>True when the query's name is in the set or is a subdomain of a name in it.</summary>
    public bool Contains(DnsQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        ReadOnlySpan<byte> bytes = query.NameBytes;
        Span<char> chars = stackalloc char[bytes.Length];
        int length = NameSuffixMap<bool>.ToChars(bytes, chars);
        return length >= 0 && _map.TryMatch(chars[..length], out _);
    }
}
