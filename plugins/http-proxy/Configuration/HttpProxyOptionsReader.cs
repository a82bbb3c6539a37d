using System.Globalization;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>
/// Reads <see cref="HttpProxyOptions"/> from the plugin's section, collecting every bad key with its
/// path instead of stopping at the first (hand-written rather than ConfigurationBinder so that each
/// error names its key path and unknown keys are reported).
/// </summary>
internal static partial class HttpProxyOptionsReader
{
    private static readonly HashSet<string> s_knownKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "listen", "virtual", "socksListen", "allowClients", "denyClients", "allowedPorts", "connectPorts", "denyDestinations", "allowDestinations", "maxConnections",
        "maxHeaderBytes", "maxHeaderCount", "keepAliveTimeoutSeconds", "requestHeadersTimeoutSeconds",
        "originConnectTimeoutSeconds", "originResponseTimeoutSeconds", "idleTimeoutSeconds", "tunnelIdleTimeoutSeconds",
        "poolMaxIdlePerOrigin", "poolIdleTimeoutSeconds", "bufferSize", "cache", "auth", "accessLog",
    };

    private static readonly HashSet<string> s_cacheKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "enabled", "maxBytes", "maxObjectBytes", "maxEntries", "heuristicMaxAge",
    };

    /// <summary>Reads the options; <paramref name="errors"/> gets (key path, message) for each problem.</summary>
    public static HttpProxyOptions Read(IConfiguration section, List<(string Key, string Message)> errors)
    {
        HttpProxyOptions defaults = new();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!s_knownKeys.Contains(child.Key))
            {
                errors.Add((child.Key, $"unknown key '{child.Key}' (known: {string.Join(", ", s_knownKeys)})"));
            }
        }

        return new HttpProxyOptions
        {
            AllowClients = ReadPrefixes(section, "allowClients", defaults.AllowClients, errors),
            DenyClients = ReadPrefixes(section, "denyClients", defaults.DenyClients, errors),
            AllowedPorts = ReadPorts(section, "allowedPorts", defaults.AllowedPorts, errors),
            ConnectPorts = ReadPorts(section, "connectPorts", defaults.ConnectPorts, errors),
            SocksListen = ReadList(section, "socksListen", defaults.SocksListen, errors, "an ip:port endpoint (127.0.0.1:1080, [::1]:1080)", static (text, into) =>
            {
                if (NetEndpoint.TryParse(text, out NetEndpoint endpoint) && endpoint.Port != 0)
                {
                    into.Add(endpoint);
                    return true;
                }

                return false;
            }),
            DenyDestinations = ReadDestinations(section, "denyDestinations", defaults.DenyDestinations, errors),
            AllowDestinations = ReadDestinations(section, "allowDestinations", defaults.AllowDestinations, errors),
            MaxConnections = ReadInt(section, "maxConnections", defaults.MaxConnections, 1, 1_000_000, errors),
            MaxHeaderBytes = ReadInt(section, "maxHeaderBytes", defaults.MaxHeaderBytes, 1024, 1024 * 1024, errors),
            MaxHeaderCount = ReadInt(section, "maxHeaderCount", defaults.MaxHeaderCount, 8, 1000, errors),
            KeepAliveTimeout = ReadSeconds(section, "keepAliveTimeoutSeconds", defaults.KeepAliveTimeout, errors),
            RequestHeadersTimeout = ReadSeconds(section, "requestHeadersTimeoutSeconds", defaults.RequestHeadersTimeout, errors),
            OriginConnectTimeout = ReadSeconds(section, "originConnectTimeoutSeconds", defaults.OriginConnectTimeout, errors),
            OriginResponseTimeout = ReadSeconds(section, "originResponseTimeoutSeconds", defaults.OriginResponseTimeout, errors),
            IdleTimeout = ReadSeconds(section, "idleTimeoutSeconds", defaults.IdleTimeout, errors),
            TunnelIdleTimeout = ReadSeconds(section, "tunnelIdleTimeoutSeconds", defaults.TunnelIdleTimeout, errors),
            PoolMaxIdlePerOrigin = ReadInt(section, "poolMaxIdlePerOrigin", defaults.PoolMaxIdlePerOrigin, 0, 10_000, errors),
            PoolIdleTimeout = ReadSeconds(section, "poolIdleTimeoutSeconds", defaults.PoolIdleTimeout, errors),
            BufferSize = ReadInt(section, "bufferSize", defaults.BufferSize, 4096, 16 * 1024 * 1024, errors),
            Cache = ReadCache(section.GetSection("cache"), errors),
            Auth = ReadAuth(section.GetSection("auth"), errors),
            AccessLog = ReadAccessLog(section.GetSection("accessLog"), errors),
        };
    }

    private static HttpCacheOptions ReadCache(IConfigurationSection section, List<(string, string)> errors)
    {
        HttpCacheOptions defaults = new();
        if (!section.Exists())
        {
            return defaults;
        }

        if (section.Value is { Length: > 0 } scalar)
        {
            errors.Add(("cache", $"'{scalar}' is not a map: write cache: {{ enabled: true, maxBytes: 64MiB }}"));
            return defaults;
        }

        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!s_cacheKeys.Contains(child.Key))
            {
                errors.Add(($"cache:{child.Key}", $"unknown key '{child.Key}' (known: {string.Join(", ", s_cacheKeys)})"));
            }
        }

        bool enabled = defaults.Enabled;
        if (section["enabled"] is { } enabledText && !bool.TryParse(enabledText, out enabled))
        {
            errors.Add(("cache:enabled", $"'{enabledText}' must be true or false"));
            enabled = defaults.Enabled;
        }

        long maxBytes = ReadSize(section, "maxBytes", defaults.MaxBytes, 64 * 1024, 64L << 30, errors);
        long maxObjectBytes = ReadSize(section, "maxObjectBytes", Math.Min(defaults.MaxObjectBytes, maxBytes), 0, 1L << 30, errors);
        if (maxObjectBytes > maxBytes)
        {
            errors.Add(("cache:maxObjectBytes", $"{maxObjectBytes} is larger than cache.maxBytes ({maxBytes}); lower it or raise maxBytes"));
        }

        TimeSpan heuristic = defaults.HeuristicMaxAge;
        if (section["heuristicMaxAge"] is { } heuristicText)
        {
            if (TryParseDuration(heuristicText, out TimeSpan parsed))
            {
                heuristic = parsed;
            }
            else
            {
                errors.Add(("cache:heuristicMaxAge", $"'{heuristicText}' must be seconds (3600) or a number with s, m, h or d (1h), at most 365d; 0 turns heuristic freshness off"));
            }
        }

        return new HttpCacheOptions
        {
            Enabled = enabled,
            MaxBytes = maxBytes,
            MaxObjectBytes = maxObjectBytes,
            MaxEntries = ReadInt(section, "maxEntries", defaults.MaxEntries, 1, 10_000_000, errors, "cache:"),
            HeuristicMaxAge = heuristic,
        };
    }

    /// <summary>A byte count: digits with an optional unit (k/KiB, M/MiB, G/GiB, all powers of 1024).</summary>
    private static long ReadSize(IConfiguration section, string key, long fallback, long min, long max, List<(string, string)> errors)
    {
        string? text = section[key];
        if (text is null)
        {
            return fallback;
        }

        string trimmed = text.Trim();
        int digits = 0;
        while (digits < trimmed.Length && char.IsAsciiDigit(trimmed[digits]))
        {
            digits++;
        }

        long shift = trimmed[digits..].Trim().ToUpperInvariant() switch
        {
            "" or "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            _ => -1,
        };
        if (digits > 0 && digits <= 12 && shift >= 0 && long.TryParse(trimmed.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out long value) &&
            (value << (int)shift) >= min && (value << (int)shift) <= max)
        {
            return value << (int)shift;
        }

        errors.Add(($"cache:{key}", $"'{text}' must be a byte count from {min} to {max} (a number, optionally with KiB, MiB or GiB)"));
        return fallback;
    }

    private static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        string trimmed = text.Trim();
        double unit = 1;
        if (trimmed.Length > 0 && char.IsAsciiLetter(trimmed[^1]))
        {
            unit = char.ToLowerInvariant(trimmed[^1]) switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86_400, _ => -1 };
            trimmed = trimmed[..^1];
        }

        if (unit < 0 || !double.TryParse(trimmed, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) ||
            value * unit > 365 * 86_400)
        {
            return false;
        }

        duration = TimeSpan.FromSeconds(value * unit);
        return true;
    }

    private static IReadOnlyList<IpPrefix> ReadPrefixes(IConfiguration section, string key, IReadOnlyList<IpPrefix> fallback, List<(string, string)> errors) =>
        ReadList(section, key, fallback, errors, "an address or CIDR prefix (for example 10.0.0.0/8 or fd00::/8)", static (text, into) =>
        {
            if (IpPrefix.TryParse(text, out IpPrefix prefix))
            {
                into.Add(prefix);
                return true;
            }

            if (NetAddress.TryParse(text, out NetAddress address))
            {
                into.Add(new IpPrefix(address, address.BitLength));
                return true;
            }

            return false;
        });

    private static IReadOnlyList<DestinationRule> ReadDestinations(IConfiguration section, string key, IReadOnlyList<DestinationRule> fallback, List<(string, string)> errors) =>
        ReadList(section, key, fallback, errors, $"an address, a CIDR prefix (169.254.0.0/16, fd00::/8) or one of {DestinationRule.KnownNames}", DestinationRule.TryParse);

    private static IReadOnlyList<int> ReadPorts(IConfiguration section, string key, IReadOnlyList<int> fallback, List<(string, string)> errors) =>
        ReadList(section, key, fallback, errors, "a port (1-65535)", static (text, into) =>
        {
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535)
            {
                into.Add(port);
                return true;
            }

            return false;
        });

    /// <summary>
    /// Reads a list key: the fallback when it is not written, the parsed entries otherwise (an empty list is empty,
    /// not the default); each entry <paramref name="tryAdd"/> refuses is reported at its own path ("key:2").
    /// </summary>
    private static IReadOnlyList<T> ReadList<T>(IConfiguration section, string key, IReadOnlyList<T> fallback, List<(string, string)> errors, string expected,
        Func<string, List<T>, bool> tryAdd)
    {
        IConfigurationSection list = section.GetSection(key);
        if (!IsPresent(section, list))
        {
            return fallback;
        }

        if (list.Value is { Length: > 0 } scalar)
        {
            errors.Add((key, $"'{scalar}' is not a list: write [{scalar}]"));
            return fallback;
        }

        List<T> items = [];
        foreach (IConfigurationSection item in list.GetChildren())
        {
            string text = item.Value ?? string.Empty;
            if (!tryAdd(text.Trim(), items))
            {
                errors.Add(($"{key}:{item.Key}", $"'{text}' is not {expected}"));
            }
        }

        return items;
    }

    /// <summary>
    /// True when the key is written, even as an empty list ("denyDestinations: []" reaches us as a key with a null
    /// value, which IConfigurationSection.Exists() does not count).
    /// </summary>
    private static bool IsPresent(IConfiguration parent, IConfigurationSection child)
    {
        if (child.Exists())
        {
            return true;
        }

        foreach (IConfigurationSection sibling in parent.GetChildren())
        {
            if (string.Equals(sibling.Key, child.Key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static int ReadInt(IConfiguration section, string key, int fallback, int min, int max, List<(string, string)> errors, string prefix = "")
    {
        string? text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max)
        {
            return value;
        }

        errors.Add((prefix + key, $"'{text}' must be a whole number from {min} to {max}"));
        return fallback;
    }

    private static TimeSpan ReadSeconds(IConfiguration section, string key, TimeSpan fallback, List<(string, string)> errors)
    {
        string? text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && seconds <= 86_400)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        errors.Add((key, $"'{text}' must be a number of seconds greater than 0 and at most 86400"));
        return fallback;
    }
}
