using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Sdk.Plugins;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>Checks <c>dns-dot.lists</c>: every problem with its key path (the host turns it into file:line:col).</summary>
internal static class ListOptionsValidator
{
    /// <summary>The shortest refresh interval accepted: a list server is someone else's machine.</summary>
    public static readonly TimeSpan MinRefresh = TimeSpan.FromSeconds(1);

    public static void Validate(PluginValidationContext context, IReadOnlyList<ListOptions> lists)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < lists.Count; i++)
        {
            ListOptions list = lists[i];
            string at = $"lists:{i}";
            if (!ListDefinition.IsValidName(list.Name))
            {
                context.Error($"{at}:name", $"'{list.Name}' is not a list name: use letters, digits, '-', '_' and '.' (at most 64), for example ads");
            }
            else if (!names.Add(list.Name!))
            {
                context.Error($"{at}:name", $"list '{list.Name}' is defined twice");
            }

            if ((list.Url is null) == (list.File is null))
            {
                context.Error(at, "give either url: (an http or https address) or file: (a local file), not both and not neither");
            }
            else if (list.Url is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https")))
            {
                context.Error($"{at}:url", $"'{url}' is not an http:// or https:// address");
            }
            else if (list.File is { } file && !File.Exists(Path.GetFullPath(file, context.ConfigDirectory)))
            {
                context.Error($"{at}:file", $"file not found: {Path.GetFullPath(file, context.ConfigDirectory)}");
            }

            if (list.Kind is not ("block" or "allow"))
            {
                context.Error($"{at}:kind", $"'{list.Kind}' is not a list kind: use block or allow");
            }

            if (!Enum.TryParse<ListFormat>(list.Format, ignoreCase: true, out _) || int.TryParse(list.Format, out _))
            {
                context.Error($"{at}:format", $"'{list.Format}' is not a list format: use hosts, domains or adblock");
            }

            if (!Durations.TryParse(list.Refresh, out TimeSpan refresh))
            {
                context.Error($"{at}:refresh", $"'{list.Refresh}' is not a duration: write a number and a unit, such as 90s, 10m, 24h or 7d");
            }
            else if (refresh < MinRefresh)
            {
                context.Error($"{at}:refresh", $"{list.Refresh} is shorter than {MinRefresh.TotalSeconds:0}s");
            }

            if (list.MaxSizeMB is < 1 or > 4096)
            {
                context.Error($"{at}:maxSizeMB", $"{list.MaxSizeMB} is outside 1..4096 MiB");
            }

            if (list.TimeoutSeconds is < 1 or > 3600)
            {
                context.Error($"{at}:timeoutSeconds", $"{list.TimeoutSeconds} is outside 1..3600 s");
            }
        }
    }
}
