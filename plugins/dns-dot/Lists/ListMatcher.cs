using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// One list's entries, immutable and shared by every query thread: a <see cref="NameSuffixMap{T}"/> from names to
/// <see cref="ListEntryFlags"/> (one right-to-left pass over the query name, one probe per label suffix, no
/// allocation), plus leftmost-label patterns (<c>||ad*.example^</c>) keyed by the suffix right of the pattern.
/// A refresh builds a new matcher off the query path and swaps the reference.
/// </summary>
internal sealed class ListMatcher
{
    private readonly NameSuffixMap<byte> _names;
    private readonly NameSuffixMap<LabelPattern[]> _patterns;

    public ListMatcher(Dictionary<string, byte> names, Dictionary<string, LabelPattern[]> patterns, int patternCount)
    {
        _names = new NameSuffixMap<byte>(names);
        _patterns = new NameSuffixMap<LabelPattern[]>(patterns);
        Count = names.Count + patternCount;
    }

    /// <summary>An empty matcher (a list not loaded yet).</summary>
    public static ListMatcher Empty { get; } = new(NameSuffixMap<byte>.CreateDictionary(), NameSuffixMap<LabelPattern[]>.CreateDictionary(), 0);

    /// <summary>Distinct entries (names and patterns).</summary>
    public int Count { get; }

    /// <summary>What the list says about <paramref name="name"/> (lower-case presentation bytes): allow beats block.</summary>
    public ListMatch Match(ReadOnlySpan<byte> name)
    {
        var visitor = new FlagVisitor();
        _names.VisitMatches(name, ref visitor);
        if (_patterns.Count > 0 && !visitor.Allow)
        {
            var patterns = new PatternVisitor();
            _patterns.VisitMatches(name, ref patterns);
            visitor.Block |= patterns.Block;
            visitor.Allow |= patterns.Allow;
        }

        return visitor.Allow ? ListMatch.Allow : visitor.Block ? ListMatch.Block : ListMatch.None;
    }

    /// <summary>A leftmost-label pattern with '*' (<c>ad*</c>), and how it applies.</summary>
    /// <param name="Pattern">The label pattern, lower case.</param>
    /// <param name="Exact">True for <c>|…^</c>: the pattern's label must be the name's first label.</param>
    /// <param name="Allow">True for an exception (<c>@@</c>) or an allow list's entry.</param>
    internal sealed record LabelPattern(byte[] Pattern, bool Exact, bool Allow);

    private struct FlagVisitor : ISuffixVisitor<byte>
    {
        public bool Block;
        public bool Allow;

        public void Visit(byte value, bool whole, int labelStart, ReadOnlySpan<byte> name)
        {
            int applicable = ListEntryBits.Applicable(whole);
            Block |= (value & applicable) != 0;
            Allow |= ((value >> ListEntryBits.AllowShift) & applicable) != 0;
        }
    }

    private struct PatternVisitor : ISuffixVisitor<LabelPattern[]>
    {
        public bool Block;
        public bool Allow;

        public void Visit(LabelPattern[] value, bool whole, int labelStart, ReadOnlySpan<byte> name)
        {
            if (whole)
            {
                return;
            }

            int end = name[labelStart..].IndexOf((byte)'.');
            ReadOnlySpan<byte> label = name.Slice(labelStart, end);
            foreach (LabelPattern pattern in value)
            {
                if ((!pattern.Exact || labelStart == 0) && Glob(pattern.Pattern, label))
                {
                    if (pattern.Allow)
                    {
                        Allow = true;
                    }
                    else
                    {
                        Block = true;
                    }
                }
            }
        }

        // '*' matches any run of bytes (possibly empty); everything else literally.
        private static bool Glob(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> text)
        {
            int p = 0;
            int t = 0;
            int star = -1;
            int mark = 0;
            while (t < text.Length)
            {
                if (p < pattern.Length && pattern[p] == text[t])
                {
                    p++;
                    t++;
                }
                else if (p < pattern.Length && pattern[p] == (byte)'*')
                {
                    star = p++;
                    mark = t;
                }
                else if (star >= 0)
                {
                    p = star + 1;
                    t = ++mark;
                }
                else
                {
                    return false;
                }
            }

            while (p < pattern.Length && pattern[p] == (byte)'*')
            {
                p++;
            }

            return p == pattern.Length;
        }
    }
}
