using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Gateway.SchemaGen;

/// <summary>
/// The XML documentation of options properties, read from the C# sources (the host and plugins do not emit
/// documentation files, and their options classes are internal). Only the shape our options classes have is
/// understood: <c>///</c> lines right above a <c>public Type Name { get; ...</c> property inside <c>class/record Type</c>.
/// </summary>
internal sealed partial class SourceDocs
{
    private readonly Dictionary<string, List<string>> _typeSources = new(StringComparer.Ordinal);

    public SourceDocs(IEnumerable<string> sourceFolders)
    {
        foreach (string folder in sourceFolders)
        {
            foreach (string file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains("/obj/", StringComparison.Ordinal) || file.Contains("/bin/", StringComparison.Ordinal))
                {
                    continue;
                }

                string text = File.ReadAllText(file);
                foreach (Match match in TypeDeclaration().Matches(text))
                {
                    string name = match.Groups["name"].Value;
                    if (!_typeSources.TryGetValue(name, out List<string>? texts))
                    {
                        _typeSources[name] = texts = [];
                    }

                    texts.Add(text);
                }
            }
        }
    }

    /// <summary>The summary of <paramref name="type"/> itself, as plain text, or null.</summary>
    public string? TypeSummary(Type type)
    {
        if (Source(type) is not { } text)
        {
            return null;
        }

        Match declaration = Regex.Match(text, $@"(?<doc>(?:[ \t]*///[^\n]*\n)+)(?:[ \t]*\[[^\n]*\n)*[ \t]*(?:public |internal )?(?:sealed )?(?:partial )?(?:class|record) {Regex.Escape(type.Name)}\b");
        return declaration.Success ? Summary(DocXml(declaration.Groups["doc"].Value)) : null;
    }

    /// <summary>The raw documentation XML of property <paramref name="name"/> of <paramref name="type"/>, or null.</summary>
    public string? PropertyXml(Type type, string name)
    {
        if (Source(type) is not { } text)
        {
            return null;
        }

        Match property = Regex.Match(text, $@"(?<doc>(?:[ \t]*///[^\n]*\n)+)(?:[ \t]*\[[^\n]*\n)*[ \t]*public [^\n=;{{]+ {Regex.Escape(name)}\s*\{{");
        return property.Success ? DocXml(property.Groups["doc"].Value) : null;
    }

    /// <summary>The source declaring <paramref name="type"/>: same name, same namespace (short names repeat across plugins).</summary>
    private string? Source(Type type)
    {
        if (!_typeSources.TryGetValue(type.Name, out List<string>? texts))
        {
            return null;
        }

        foreach (string text in texts)
        {
            if (text.Contains("namespace " + type.Namespace + ";", StringComparison.Ordinal) ||
                text.Contains("namespace " + type.Namespace + "\n", StringComparison.Ordinal))
            {
                return text;
            }
        }

        return null;
    }

    /// <summary>Plain text of a documentation comment's summary: tags removed, code spans kept, entities decoded, whitespace folded.</summary>
    public static string Summary(string xml)
    {
        Match summary = Regex.Match(xml, "<summary>(?<s>.*?)</summary>", RegexOptions.Singleline);
        return PlainText(summary.Success ? summary.Groups["s"].Value : xml);
    }

    /// <summary>XML to plain text: <c>&lt;see cref="X.Y"/&gt;</c> becomes Y, other tags vanish, whitespace folds.</summary>
    public static string PlainText(string xml)
    {
        string text = Regex.Replace(xml, @"<see(?:also)? (?:cref|langword|href)=""(?:[A-Z]:)?(?<ref>[^""]+)""\s*/>", m => m.Groups["ref"].Value.Split('.')[^1]);
        text = Regex.Replace(text, "<para>|</para>", " ");
        text = Regex.Replace(text, "<[^>]+>", string.Empty);
        text = WebUtility.HtmlDecode(text);
        return Regex.Replace(text, @"\s+", " ").Trim();
    }

    private static string DocXml(string docLines)
    {
        var builder = new StringBuilder();
        foreach (string line in docLines.Split('\n'))
        {
            string trimmed = line.Trim();
            if (trimmed.StartsWith("///", StringComparison.Ordinal))
            {
                builder.Append(trimmed.AsSpan(3)).Append('\n');
            }
        }

        return builder.ToString();
    }

    [GeneratedRegex(@"\b(?:class|record)\s+(?<name>[A-Z]\w*)")]
    private static partial Regex TypeDeclaration();
}
