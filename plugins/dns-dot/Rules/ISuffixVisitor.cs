namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Receives every entry of a <see cref="NameSuffixMap{T}"/> that matches a name (see
/// <see cref="NameSuffixMap{T}.VisitMatches"/>). A struct implementing it is specialised by the JIT: no
/// delegate, no allocation per query.
/// </summary>
internal interface ISuffixVisitor<T>
{
    /// <summary>
    /// An entry matched: <paramref name="whole"/> is true when it equals the whole name, false when it is a
    /// proper suffix on a label boundary (the name is a subdomain of it); <paramref name="labelStart"/> is where
    /// the label left of the entry starts in the name (0 when <paramref name="whole"/>).
    /// </summary>
    void Visit(T value, bool whole, int labelStart, ReadOnlySpan<byte> name);
}
