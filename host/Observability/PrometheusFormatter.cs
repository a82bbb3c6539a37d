using System.Globalization;
using System.Text;

namespace Gateway.Host.Observability;

/// <summary>
/// Writes a <see cref="MetricsSnapshot"/> in the Prometheus text exposition format 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/), with names derived as the OpenTelemetry
/// Prometheus compatibility spec does: dots and dashes become underscores, the unit becomes a suffix
/// ("s" → _seconds, "By" → _bytes), monotonic counters end in _total. Hand-written because no package in our
/// registry provides it; it is small and its output is parsed back by the tests.
/// </summary>
internal static class PrometheusFormatter
{
    /// <summary>The Content-Type of the text format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Formats every family; families that end up with the same Prometheus name are merged under one HELP/TYPE.</summary>
    public static string Format(MetricsSnapshot snapshot)
    {
        var byName = new SortedDictionary<string, List<MetricFamily>>(StringComparer.Ordinal);
        foreach (MetricFamily family in snapshot.Families)
        {
            string name = MetricName(family);
            if (!byName.TryGetValue(name, out List<MetricFamily>? group))
            {
                byName[name] = group = [];
            }

            // A name can only have one TYPE: an instrument of another kind under the same name is left out.
            if (group.Count == 0 || group[0].Kind == family.Kind)
            {
                group.Add(family);
            }
        }

        var text = new StringBuilder(4096);
        foreach ((string name, List<MetricFamily> group) in byName)
        {
            MetricFamily first = group[0];
            text.Append("# HELP ").Append(name).Append(' ');
            AppendHelp(text, first.Description ?? first.Name);
            text.Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(TypeName(first.Kind)).Append('\n');
            foreach (MetricFamily family in group)
            {
                foreach (MetricPoint point in family.Points)
                {
                    if (family.Kind == MetricKind.Histogram)
                    {
                        AppendHistogram(text, name, family.Boundaries!, point);
                    }
                    else
                    {
                        AppendSample(text, name, point.Tags, null, null, point.Value);
                    }
                }
            }
        }

        return text.ToString();
    }

    /// <summary>The Prometheus metric family name of an instrument ("dns.request.duration" in s → dns_request_duration_seconds).</summary>
    public static string MetricName(MetricFamily family)
    {
        string name = Sanitize(family.Name, allowColon: true);
        string? suffix = UnitSuffix(family.Unit);
        if (suffix is not null && !name.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            name += "_" + suffix;
        }

        if (family.Kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }

        return name;
    }

    /// <summary>Replaces every character outside [a-zA-Z0-9_] (and ':' in metric names) with '_' and prefixes a leading digit.</summary>
    public static string Sanitize(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        var result = new StringBuilder(name.Length + 1);
        if (char.IsAsciiDigit(name[0]))
        {
            result.Append('_');
        }

        foreach (char c in name)
        {
            result.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        return result.ToString();
    }

    /// <summary>The unit as a name suffix (UCUM "s" → "seconds"); null for no unit, "1" and annotations like "{packet}".</summary>
    public static string? UnitSuffix(string? unit)
    {
        if (string.IsNullOrEmpty(unit) || unit == "1" || unit[0] == '{')
        {
            return null;
        }

        int slash = unit.IndexOf('/');
        if (slash > 0 && slash < unit.Length - 1)
        {
            // "By/s" → bytes_per_second: the denominator is singular (OpenTelemetry Prometheus compatibility).
            string? per = unit[(slash + 1)..] switch
            {
                "s" => "second",
                "min" => "minute",
                "h" => "hour",
                "d" => "day",
                string other => UnitSuffix(other),
            };
            string? of = UnitSuffix(unit[..slash]);
            return of is null ? (per is null ? null : "per_" + per) : (per is null ? of : of + "_per_" + per);
        }

        return unit switch
        {
            "d" => "days",
            "h" => "hours",
            "min" => "minutes",
            "s" => "seconds",
            "ms" => "milliseconds",
            "us" => "microseconds",
            "ns" => "nanoseconds",
            "By" => "bytes",
            "KiBy" => "kibibytes",
            "MiBy" => "mebibytes",
            "GiBy" => "gibibytes",
            "KBy" => "kilobytes",
            "MBy" => "megabytes",
            "bit" => "bits",
            "%" => "percent",
            "Hz" => "hertz",
            _ => Sanitize(unit, allowColon: false).Trim('_') is { Length: > 0 } sanitized ? sanitized : null,
        };
    }

    private static string TypeName(MetricKind kind) => kind switch
    {
        MetricKind.Counter => "counter",
        MetricKind.Histogram => "histogram",
        _ => "gauge",
    };

    private static void AppendHistogram(StringBuilder text, string name, double[] boundaries, MetricPoint point)
    {
        long[] buckets = point.BucketCounts!;
        long cumulative = 0;
        string bucketName = name + "_bucket";
        for (int i = 0; i < buckets.Length; i++)
        {
            cumulative += buckets[i];
            string le = i < boundaries.Length ? FormatValue(boundaries[i]) : "+Inf";
            AppendSample(text, bucketName, point.Tags, "le", le, cumulative);
        }

        AppendSample(text, name + "_sum", point.Tags, null, null, point.Sum);
        AppendSample(text, name + "_count", point.Tags, null, null, point.Count);
    }

    private static void AppendSample(StringBuilder text, string name, KeyValuePair<string, string>[] tags, string? extraKey, string? extraValue, double value)
    {
        text.Append(name);
        if (tags.Length > 0 || extraKey is not null)
        {
            text.Append('{');
            bool first = true;
            foreach (KeyValuePair<string, string> tag in tags)
            {
                if (!first)
                {
                    text.Append(',');
                }

                first = false;
                text.Append(Sanitize(tag.Key, allowColon: false)).Append("=\"");
                AppendLabelValue(text, tag.Value);
                text.Append('"');
            }

            if (extraKey is not null)
            {
                text.Append(first ? "" : ",").Append(extraKey).Append("=\"").Append(extraValue).Append('"');
            }

            text.Append('}');
        }

        text.Append(' ').Append(FormatValue(value)).Append('\n');
    }

    /// <summary>Label values escape backslash, double quote and line feed (exposition format 0.0.4).</summary>
    private static void AppendLabelValue(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            _ = c switch
            {
                '\\' => text.Append("\\\\"),
                '"' => text.Append("\\\""),
                '\n' => text.Append("\\n"),
                _ => text.Append(c),
            };
        }
    }

    /// <summary>HELP text escapes backslash and line feed only.</summary>
    private static void AppendHelp(StringBuilder text, string help)
    {
        foreach (char c in help)
        {
            _ = c switch
            {
                '\\' => text.Append("\\\\"),
                '\n' => text.Append("\\n"),
                _ => text.Append(c),
            };
        }
    }

    /// <summary>Go's ParseFloat forms: "+Inf", "-Inf", "NaN", otherwise the shortest round-trip invariant text.</summary>
    public static string FormatValue(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" :
        double.IsNegativeInfinity(value) ? "-Inf" :
        double.IsNaN(value) ? "NaN" :
        value.ToString("R", CultureInfo.InvariantCulture);
}
