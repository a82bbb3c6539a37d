using System.Net;
using System.Text;
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// Reads a list file in one of the three formats into a <see cref="ListMatcher"/>. Only what the format clearly
/// says is taken; every other non-comment line is counted as skipped, never guessed at (an adblock rule with
/// modifiers, a cosmetic rule, a URL pattern, a plain word in a hosts file).
/// </summary>
internal sealed class ListParser
{
    private readonly ListFormat _format;
    private readonly bool _allowList;
    private readonly Dictionary<string, byte> _names = NameSuffixMap<byte>.CreateDictionary();
    private readonly Dictionary<string, List<ListMatcher.LabelPattern>> _patterns = new(StringComparer.Ordinal);
    private int _patternCount;

    /// <summary>Starts reading a list of <paramref name="format"/>; entries of an allow list allow.</summary>
    public ListParser(ListFormat format, bool allowList)
    {
        _format = format;
        _allowList = allowList;
    }

    /// <summary>Lines that were neither entries, comments nor blank.</summary>
    public int Skipped { get; private set; }

    /// <summary>The first few skipped lines (for the log: "skipped 12 lines, e.g. line 7: …").</summary>
    public List<string> SkippedExamples { get; } = [];

    /// <summary>Reads every line of <paramref name="reader"/>.</summary>
    public void Read(TextReader reader)
    {
        int number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (!ReadLine(line))
            {
                Skipped++;
                if (SkippedExamples.Count < 3)
                {
                    SkippedExamples.Add($"line {number}: {(line.Length > 80 ? line[..80] + "…" : line)}");
                }
            }
        }
    }

    /// <summary>Builds the matcher from everything read.</summary>
    public ListMatcher Build()
    {
        Dictionary<string, ListMatcher.LabelPattern[]> patterns = NameSuffixMap<ListMatcher.LabelPattern[]>.CreateDictionary(_patterns.Count);
        foreach ((string suffix, List<ListMatcher.LabelPattern> list) in _patterns)
        {
            patterns[suffix] = [.. list];
        }

        return new ListMatcher(_names, patterns, _patternCount);
    }

    /// <summary>Reads one line; false when it is neither blank, a comment nor an entry this format understands.</summary>
    internal bool ReadLine(string line)
    {
        ReadOnlySpan<char> text = line.AsSpan().Trim();
        if (text.IsEmpty)
        {
            return true;
        }

        return _format switch
        {
            ListFormat.Hosts => ReadHosts(text),
            ListFormat.Domains => ReadDomain(text),
            _ => ReadAdblock(text),
        };
    }

    private bool ReadHosts(ReadOnlySpan<char> text)
    {
        int hash = text.IndexOf('#');
        if (hash >= 0)
        {
            text = text[..hash].TrimEnd();
            if (text.IsEmpty)
            {
                return true;
            }
        }

        int space = text.IndexOfAny(' ', '\t');
        if (space < 0 || !IPAddress.TryParse(text[..space], out _))
        {
            return false;
        }

        bool any = false;
        foreach (Range range in text[space..].SplitAny(" \t"))
        {
            ReadOnlySpan<char> token = text[space..][range];
            if (token.IsEmpty)
            {
                continue;
            }

            if (!TryName(token, out string? name))
            {
                return false;
            }

            if (!BlockListReader.HostsNoise.Contains(name))
            {
                Add(name, ListEntryFlags.Exact, _allowList);
            }

            any = true;
        }

        return any;
    }

    private bool ReadDomain(ReadOnlySpan<char> text)
    {
        int hash = text.IndexOf('#');
        if (hash >= 0)
        {
            text = text[..hash].TrimEnd();
            if (text.IsEmpty)
            {
                return true;
            }
        }

        ListEntryFlags flags = ListEntryFlags.Subtree;
        if (text.StartsWith("*."))
        {
            flags = ListEntryFlags.Below;
            text = text[2..];
        }

        if (!TryName(text, out string? name))
        {
            return false;
        }

        Add(name, flags, _allowList);
        return true;
    }

    private bool ReadAdblock(ReadOnlySpan<char> text)
    {
        if (text[0] is '!' or '[' || (text[0] == '#' && !text.StartsWith("##")))
        {
            return true;
        }

        bool allow = _allowList;
        if (text.StartsWith("@@"))
        {
            allow = true;
            text = text[2..];
        }

        bool exact;
        if (text.StartsWith("||"))
        {
            exact = false;
            text = text[2..];
        }
        else if (text.StartsWith("|"))
        {
            exact = true;
            text = text[1..];
        }
        else
        {
            // A hosts line is understood in adblock lists too (AdGuard Home reads both); a bare word is a
            // substring pattern in adblock syntax, which a DNS list cannot mean exactly: skipped.
            return !allow && ReadHosts(text);
        }

        // The separator '^' ends the name (optionally followed by '|'); anything else after it — modifiers ($…),
        // paths — changes the meaning in ways we do not implement.
        if (text.EndsWith("^|"))
        {
            text = text[..^1];
        }

        if (!text.EndsWith('^'))
        {
            return false;
        }

        text = text[..^1];
        if (text.StartsWith("*."))
        {
            if (exact || !TryName(text[2..], out string? parent))
            {
                return false;
            }

            Add(parent, ListEntryFlags.Below, allow);
            return true;
        }

        int star = text.IndexOf('*');
        if (star < 0)
        {
            if (!TryName(text, out string? name))
            {
                return false;
            }

            Add(name, exact ? ListEntryFlags.Exact : ListEntryFlags.Subtree, allow);
            return true;
        }

        // '*' inside the leftmost label only: "ad*.example.com".
        int dot = text.IndexOf('.');
        if (dot < 0 || star > dot || text[(dot + 1)..].Contains('*') || !TryName(text[(dot + 1)..], out string? suffix) || !IsLabelPattern(text[..dot]))
        {
            return false;
        }

        if (!_patterns.TryGetValue(suffix, out List<ListMatcher.LabelPattern>? list))
        {
            _patterns[suffix] = list = [];
        }

        list.Add(new ListMatcher.LabelPattern(Encoding.ASCII.GetBytes(text[..dot].ToString().ToLowerInvariant()), exact, allow));
        _patternCount++;
        return true;
    }

    private void Add(string name, ListEntryFlags flags, bool allow)
    {
        byte bits = (byte)((int)flags << (allow ? ListEntryBits.AllowShift : 0));
        ref byte slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_names, name, out _);
        slot |= bits;
    }

    private static bool IsLabelPattern(ReadOnlySpan<char> label)
    {
        foreach (char c in label)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*'))
            {
                return false;
            }
        }

        return label.Length is > 0 and <= 63;
    }

    // A domain name as lists write them: ASCII letters, digits, '-', '_' and dots; lower-cased; trailing dot dropped.
    private static bool TryName(ReadOnlySpan<char> token, out string name)
    {
        name = "";
        if (token.EndsWith('.'))
        {
            token = token[..^1];
        }

        if (token.IsEmpty || token.Length > 253 || token[0] == '.' || token.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        int labelLength = 0;
        bool upper = false;
        foreach (char c in token)
        {
            if (c == '.')
            {
                labelLength = 0;
                continue;
            }

            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_') || ++labelLength > 63)
            {
                return false;
            }

            upper |= char.IsAsciiLetterUpper(c);
        }

        // A bare address ("0.0.0.0" as a name, or an IP block list) is not a domain.
        if (char.IsAsciiDigit(token[^1]) && IPAddress.TryParse(token, out _))
        {
            return false;
        }

        name = upper ? token.ToString().ToLowerInvariant() : token.ToString();
        return true;
    }
}
