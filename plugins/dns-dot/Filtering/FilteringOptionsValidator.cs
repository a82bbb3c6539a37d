using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.Records;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;

namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>
/// Checks the filtering and visibility keys of <c>dns-dot</c> (<c>lists</c>, <c>clients</c>, <c>records</c>,
/// <c>blockingMode</c>, <c>blockingIps</c>, <c>blockedTtl</c>, <c>queryLog</c>, <c>dnstap</c>): every problem with
/// its key path, which the host turns into file:line:col.
/// </summary>
internal static class FilteringOptionsValidator
{
    /// <summary>
    /// <c>clients.&lt;group&gt;.lists: []</c> means "no list", but the binder leaves an empty YAML sequence (a key
    /// with a null value) as null, which means "every list": restore the difference from the section's keys.
    /// </summary>
    public static void BindEmptyLists(Microsoft.Extensions.Configuration.IConfiguration section, DnsDotOptions options)
    {
        foreach ((string name, ClientGroupOptions group) in options.Clients)
        {
            if (group.Lists is null && section.GetSection("clients").GetSection(name).GetChildren().Any(child => child.Key == "lists"))
            {
                group.Lists = [];
            }
        }
    }

    public static void Validate(PluginValidationContext context, DnsDotOptions options)
    {
        ListOptionsValidator.Validate(context, options.Lists);
        var listNames = new HashSet<string>(options.Lists.Select(list => list.Name ?? ""), StringComparer.Ordinal);
        var claimed = new Dictionary<IpPrefix, string>();
        foreach ((string name, ClientGroupOptions group) in options.Clients)
        {
            string at = $"clients:{name}";
            if (group.Networks.Count == 0)
            {
                context.Error($"{at}:networks", "a client group needs at least one network, for example [192.168.1.64/27]");
            }

            for (int i = 0; i < group.Networks.Count; i++)
            {
                if (!IpPrefix.TryParse(group.Networks[i], out IpPrefix prefix))
                {
                    context.Error($"{at}:networks:{i}", $"'{group.Networks[i]}' is not a network such as 192.168.1.64/27 or fd00:1::/64");
                }
                else if (!claimed.TryAdd(prefix, name))
                {
                    context.Error($"{at}:networks:{i}", $"{group.Networks[i]} is already in client group '{claimed[prefix]}': a network belongs to one group");
                }
            }

            if (group.Lists is { } lists)
            {
                for (int i = 0; i < lists.Count; i++)
                {
                    if (!listNames.Contains(lists[i]))
                    {
                        context.Error($"{at}:lists:{i}", $"no list named '{lists[i]}' in lists:");
                    }
                }
            }

            if (group.Upstream is { } upstream && !options.Groups.ContainsKey(upstream))
            {
                context.Error($"{at}:upstream", $"no upstream group '{upstream}' in groups: (define it there, or leave upstream out for the default upstreams)");
            }
        }

        LocalZone.Build(options.Records, (index, message) => context.Error($"records:{index}", message));
        if (!Enum.TryParse(options.BlockingMode, ignoreCase: true, out BlockingMode mode) || int.TryParse(options.BlockingMode, out _))
        {
            context.Error("blockingMode", $"'{options.BlockingMode}' is not a blocking mode: use nxdomain, nullIp, refused or customIp");
        }
        else if (mode == BlockingMode.CustomIp && options.BlockingIps.Count == 0)
        {
            context.Error("blockingIps", "blockingMode customIp needs blockingIps: [the IPv4 and/or IPv6 address of your block page]");
        }

        for (int i = 0; i < options.BlockingIps.Count; i++)
        {
            if (!NetAddress.TryParse(options.BlockingIps[i], out _))
            {
                context.Error($"blockingIps:{i}", $"'{options.BlockingIps[i]}' is not an IPv4 or IPv6 address");
            }
        }

        if (options.BlockedTtl is < 0 or > 86400)
        {
            context.Error("blockedTtl", $"{options.BlockedTtl} is outside 0..86400 s");
        }

        if (options.QueryLog is { } log)
        {
            if (string.IsNullOrWhiteSpace(log.Path))
            {
                context.Error("queryLog:path", "missing: the query log file, for example query.log");
            }

            if (log.MaxSizeMB is < 1 or > 1_000_000)
            {
                context.Error("queryLog:maxSizeMB", $"{log.MaxSizeMB} is outside 1..1000000 MiB");
            }

            if (log.Keep is < 0 or > 1000)
            {
                context.Error("queryLog:keep", $"{log.Keep} is outside 0..1000 files");
            }
        }

        if (options.Dnstap is { } dnstap)
        {
            if ((dnstap.Socket is null) == (dnstap.Address is null))
            {
                context.Error("dnstap", "give either socket: (a Unix socket path) or address: (ip:port), not both and not neither");
            }
            else if (dnstap.Address is { } address && !NetEndpoint.TryParse(address, out _))
            {
                context.Error("dnstap:address", $"'{address}' is not an ip:port such as 127.0.0.1:6000");
            }
        }

        if (options.StateDirectory is { Length: 0 })
        {
            context.Error("stateDirectory", "empty: leave the key out for the default, or give a folder");
        }
    }
}
