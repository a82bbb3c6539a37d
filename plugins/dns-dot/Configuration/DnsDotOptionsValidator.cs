using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>Checks the <c>dns-dot</c> section and reports every problem with its key path.</summary>
internal static class DnsDotOptionsValidator
{
    /// <summary>Binds the section; null (with errors reported) when values have the wrong type.</summary>
    public static DnsDotOptions? Bind(IConfiguration section, PluginValidationContext? context)
    {
        try
        {
            DnsDotOptions options = section.Get<DnsDotOptions>() ?? new DnsDotOptions();
            Filtering.FilteringOptionsValidator.BindEmptyLists(section, options);
            return options;
        }
        catch (InvalidOperationException e)
        {
            context?.Error("", e.InnerException?.Message ?? e.Message);
            return null;
        }
    }

    /// <summary>Validates everything; errors go to <paramref name="context"/>.</summary>
    public static void Validate(PluginValidationContext context)
    {
        IConfiguration section = context.Configuration;
        DnsDotKeys.ReportUnknown(section, context.Error);
        DnsDotOptions? options = Bind(section, context);
        if (options is null)
        {
            return;
        }

        if (LoadBalancingPolicies.Create(options.Policy) is null)
        {
            context.Error("policy", $"unknown policy '{options.Policy}'; use one of {string.Join(", ", LoadBalancingPolicies.Names)}");
        }

        ValidateUpstreams(context, "upstreams", options.Upstreams);
        foreach ((string name, UpstreamGroupOptions group) in options.Groups)
        {
            string path = $"groups:{name}";
            if (group.Policy is not null && LoadBalancingPolicies.Create(group.Policy) is null)
            {
                context.Error($"{path}:policy", $"unknown policy '{group.Policy}'; use one of {string.Join(", ", LoadBalancingPolicies.Names)}");
            }

            if (group.Upstreams.Count == 0)
            {
                context.Error($"{path}:upstreams", "a group needs at least one upstream");
            }

            ValidateUpstreams(context, $"{path}:upstreams", group.Upstreams);
        }

        Positive(context, "cache:maxEntries", options.Cache.MaxEntries);
        NonNegative(context, "cache:maxTtl", options.Cache.MaxTtl);
        NonNegative(context, "cache:maxNegativeTtl", options.Cache.MaxNegativeTtl);
        NonNegative(context, "cache:maxStaleAge", options.Cache.MaxStaleAge);
        NonNegative(context, "cache:prefetchHits", options.Cache.PrefetchHits);
        if (options.MaxUdpSize is < 512 or > 65535)
        {
            context.Error("maxUdpSize", $"{options.MaxUdpSize} is outside 512..65535 bytes");
        }

        Positive(context, "queryTimeoutMs", options.QueryTimeoutMs);
        Positive(context, "connectTimeoutMs", options.ConnectTimeoutMs);
        Positive(context, "handshakeTimeoutMs", options.HandshakeTimeoutMs);
        Positive(context, "readTimeoutMs", options.ReadTimeoutMs);
        Positive(context, "idleTimeoutMs", options.IdleTimeoutMs);
        Positive(context, "clientIdleTimeoutMs", options.ClientIdleTimeoutMs);
        NonNegative(context, "minConnections", options.MinConnections);
        Positive(context, "upstreamMaxConnections", options.UpstreamMaxConnections);
        Positive(context, "maxInFlightPerConnection", options.MaxInFlightPerConnection);
        if (Rules.RulesStartupModes.Parse(options.RulesStartup) is null)
        {
            context.Error("rulesStartup", $"'{options.RulesStartup}' is not a rules start-up mode: use fast, refuse or wait");
        }

        ServingOptionsValidator.Validate(context, options);
        Filtering.FilteringOptionsValidator.Validate(context, options);
    }

    /// <summary>Decodes a pin: base64 of a 32-byte SHA-256; null when it is not one.</summary>
    public static byte[]? DecodePin(string? pin)
    {
        if (string.IsNullOrWhiteSpace(pin))
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[48];
        return Convert.TryFromBase64String(pin.Trim(), bytes, out int written) && written == 32 ? bytes[..32].ToArray() : null;
    }

    /// <summary>Resolves a path relative to the config file's folder.</summary>
    public static string ResolvePath(string configDirectory, string path) =>
        Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(configDirectory, path));

    private static void ValidateUpstreams(PluginValidationContext context, string path, List<UpstreamOptions> upstreams)
    {
        for (int i = 0; i < upstreams.Count; i++)
        {
            UpstreamOptions upstream = upstreams[i];
            string at = $"{path}:{i}";
            if (!UpstreamAddress.TryParse(upstream.Address, out UpstreamAddress address, out string problem))
            {
                context.Error($"{at}:address", problem);
                if (string.IsNullOrWhiteSpace(upstream.TlsName))
                {
                    context.Error($"{at}:tlsName", "missing: the name the upstream's certificate must carry (RFC 8310), for example cloudflare-dns.com");
                }
            }
            else if (address.IsPlain)
            {
                if (address.Protocol == UpstreamProtocol.Udp && !OperatingSystem.IsLinux())
                {
                    context.Error($"{at}:address", "udp:// upstreams need Linux; use tcp:// here");
                }

                if (upstream.TlsName is not null || upstream.CaFile is not null || upstream.SpkiPins.Count > 0)
                {
                    context.Error($"{at}:{(upstream.TlsName is not null ? "tlsName" : upstream.CaFile is not null ? "caFile" : "spkiPins")}",
                        $"{address.Protocol.ToString().ToLowerInvariant()}:// is plain DNS: tlsName, caFile and spkiPins apply to tls:// and https:// only");
                }

                // Issue 15: plaintext is for the operator's own network; say so when it goes elsewhere.
                if (!address.HostIsName && Security.ClientAcl.IsPublic(address.Address))
                {
                    context.Warn($"{at}:address", $"{address} sends queries in the clear to a public address: anyone on the way can read and change them; use tls:// or https:// unless this resolver is on your own network");
                }
            }
            else if (string.IsNullOrWhiteSpace(upstream.TlsName) && !address.HostIsName)
            {
                context.Error($"{at}:tlsName", "missing: the name the upstream's certificate must carry (RFC 8310), for example cloudflare-dns.com");
            }

            if (upstream.CaFile is { } caFile)
            {
                string full = ResolvePath(context.ConfigDirectory, caFile);
                if (!File.Exists(full))
                {
                    context.Error($"{at}:caFile", $"file not found: {full}");
                }
            }

            for (int j = 0; j < upstream.SpkiPins.Count; j++)
            {
                if (DecodePin(upstream.SpkiPins[j]) is null)
                {
                    context.Error($"{at}:spkiPins:{j}", "not a base64 SHA-256 (32 bytes) of a SubjectPublicKeyInfo; get one with: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64");
                }
            }
        }
    }

    private static void Positive(PluginValidationContext context, string key, int value)
    {
        if (value <= 0)
        {
            context.Error(key, $"must be greater than 0 (got {value})");
        }
    }

    private static void NonNegative(PluginValidationContext context, string key, int value)
    {
        if (value < 0)
        {
            context.Error(key, $"must not be negative (got {value})");
        }
    }
}
