using System.Text;

namespace Gateway.Host.Observability;

/// <summary>
/// Statsd metric names: <c>&lt;prefix&gt;.&lt;name&gt;</c>, where the name is the one the instrument's owner gave it
/// for statsd (<c>InstrumentTags.StatsdName</c>: dns-dot gives dotproxy's names, so that with prefix "dotproxy"
/// dotproxy's dashboards keep working), else the instrument name (a leading "gateway." not repeated). The host
/// knows no plugin's names; docs/operations.md lists dns-dot's.
/// </summary>
internal static class StatsdNames
{
    /// <summary>The statsd name of an instrument under <paramref name="prefix"/>.</summary>
    public static string For(MetricFamily family, string prefix)
    {
        string name = family.Name;
        if (family.StatsdName is { } owned)
        {
            name = owned;
        }
        else if (name.StartsWith("gateway.", StringComparison.OrdinalIgnoreCase))
        {
            name = name["gateway.".Length..];
        }

        return Sanitize(prefix.Length == 0 ? name : prefix + "." + name);
    }

    /// <summary>Replaces the characters statsd and its tag dialects reserve (: | @ # , = and whitespace) with '_'.</summary>
    public static string Sanitize(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            result.Append(c is ':' or '|' or '@' or '#' or ',' or '=' || char.IsWhiteSpace(c) || char.IsControl(c) ? '_' : c);
        }

        return result.ToString();
    }
}
