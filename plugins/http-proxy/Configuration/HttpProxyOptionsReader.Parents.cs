using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>The <c>parents:</c> list (issue 18).</summary>
internal static partial class HttpProxyOptionsReader
{
    private static IReadOnlyList<ParentProxyOptions> ReadParents(SectionReader reader)
    {
        if (!reader.Has("parents"))
        {
            reader.Known("parents");
            return [];
        }

        List<ParentProxyOptions> parents = [];
        foreach (SectionReader entry in reader.Maps("parents"))
        {
            string text = entry.RequiredString("proxy", "the parent's URL, for example http://192.0.2.10:3128 or socks5://user:pass@192.0.2.10:1080");
            ParentProxyUrl? url = null;
            if (text.Length > 0 && !ParentProxyUrl.TryParse(text, out url, out string error))
            {
                entry.Error("proxy", $"'{ParentProxyUrl.Redact(text)}' {error}");
            }

            List<string> domains = [];
            IReadOnlyList<string> names = entry.Strings("domains");
            for (int i = 0; i < names.Count; i++)
            {
                string name = names[i].Trim().TrimStart('.').TrimEnd('.').ToLowerInvariant();
                if (name.Length > 0 && HostPort.TryParse($"{name}:1", out HostPort parsed) && !parsed.IsAddress)
                {
                    domains.Add(parsed.Host);
                }
                else
                {
                    entry.Error($"domains:{i}", $"'{names[i]}' is not a domain name (example.test or .example.test; IP addresses go in networks)");
                }
            }

            IReadOnlyList<IpPrefix> networks = entry.Prefixes("networks", []);
            if (url is not null)
            {
                parents.Add(new ParentProxyOptions { Proxy = url.ToString(), Url = url, Domains = domains, Networks = networks });
            }
        }

        return parents;
    }
}
