using System.Collections.Frozen;
using System.Text;

namespace Gateway.Host.Observability;

/// <summary>
/// Statsd metric names: <c>&lt;prefix&gt;.&lt;instrument name&gt;</c> (a leading "gateway." of the instrument name is
/// not repeated), except the dns-dot instruments that have a dotproxy counterpart, which use dotproxy's name
/// (github.com/LINKIWI/dotproxy internal/metrics/hook.go) so that its dashboards keep working: with prefix
/// "dotproxy" the names are exactly dotproxy's. docs/operations.md lists the table.
/// </summary>
internal static class StatsdNames
{
    /// <summary>The meter of the dns-dot plugin, whose instruments the dotproxy table applies to.</summary>
    public const string DnsDotMeter = "Gateway.Plugins.dns-dot";

    /// <summary>dns-dot instrument name → dotproxy statsd name (without dotproxy's "dotproxy." prefix).</summary>
    public static readonly FrozenDictionary<string, string> Dotproxy = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["dns.client.connections.opened"] = "event.client.cx_open",
        ["dns.client.connections.closed"] = "event.client.cx_close",
        ["dns.client.connection_errors"] = "event.client.cx_error",
        ["dns.client.read_errors"] = "event.client.read_error",
        ["dns.client.write_errors"] = "event.client.write_error",
        ["dns.upstream.connections.opened"] = "event.upstream.cx_open",
        ["dns.upstream.connections.closed"] = "event.upstream.cx_close",
        ["dns.upstream.connection_errors"] = "event.upstream.cx_error",
        ["dns.upstream.read_errors"] = "event.upstream.read_error",
        ["dns.upstream.write_errors"] = "event.upstream.write_error",
        ["dns.upstream.retries"] = "event.upstream.io_retry",
        ["dns.request.size"] = "size.proxy.request",
        ["dns.response.size"] = "size.proxy.response",
        ["dns.request.duration"] = "latency.proxy.tx_rtt",
        ["dns.upstream.duration"] = "latency.proxy.tx_upstream",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The statsd name of an instrument under <paramref name="prefix"/>.</summary>
    public static string For(MetricFamily family, string prefix)
    {
        string name = family.Name;
        if (family.MeterName == DnsDotMeter && Dotproxy.TryGetValue(name, out string? alias))
        {
            name = alias;
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
