using System.Globalization;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>
/// Reads <see cref="HttpProxyOptions"/> from the plugin's section, collecting every bad key with its
/// path instead of stopping at the first (hand-written rather than ConfigurationBinder so that each
/// error names its key path and unknown keys are reported).
/// </summary>
internal static class HttpProxyOptionsReader
{
    private static readonly HashSet<string> s_knownKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "listen", "virtual", "allowClients", "denyClients", "allowedPorts", "connectPorts", "maxConnections",
        "maxHeaderBytes", "maxHeaderCount", "keepAliveTimeoutSeconds", "requestHeadersTimeoutSeconds",
        "originConnectTimeoutSeconds", "originResponseTimeoutSeconds", "idleTimeoutSeconds", "tunnelIdleTimeoutSeconds",
        "poolMaxIdlePerOrigin", "poolIdleTimeoutSeconds", "bufferSize",
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
        };
    }

    private static IReadOnlyList<IpPrefix> ReadPrefixes(IConfiguration section, string key, IReadOnlyList<IpPrefix> fallback, List<(string, string)> errors)
    {
        IConfigurationSection list = section.GetSection(key);
        if (!list.Exists())
        {
            return fallback;
        }

        List<IpPrefix> prefixes = [];
        if (list.Value is { Length: > 0 } scalar)
        {
            errors.Add((key, $"'{scalar}' is not a list: write [{scalar}]"));
            return fallback;
        }

        foreach (IConfigurationSection item in list.GetChildren())
        {
            string text = item.Value ?? string.Empty;
            if (IpPrefix.TryParse(text, out IpPrefix prefix))
            {
                prefixes.Add(prefix);
            }
            else if (NetAddress.TryParse(text, out NetAddress address))
            {
                prefixes.Add(new IpPrefix(address, address.BitLength));
            }
            else
            {
                errors.Add(($"{key}:{item.Key}", $"'{text}' is not an address or CIDR prefix (for example 10.0.0.0/8 or fd00::/8)"));
            }
        }

        return prefixes;
    }

    private static IReadOnlyList<int> ReadPorts(IConfiguration section, string key, IReadOnlyList<int> fallback, List<(string, string)> errors)
    {
        IConfigurationSection list = section.GetSection(key);
        if (!list.Exists())
        {
            return fallback;
        }

        if (list.Value is { Length: > 0 } scalar)
        {
            errors.Add((key, $"'{scalar}' is not a list: write [{scalar}]"));
            return fallback;
        }

        List<int> ports = [];
        foreach (IConfigurationSection item in list.GetChildren())
        {
            if (int.TryParse(item.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535)
            {
                ports.Add(port);
            }
            else
            {
                errors.Add(($"{key}:{item.Key}", $"'{item.Value}' is not a port (1-65535)"));
            }
        }

        return ports;
    }

    private static int ReadInt(IConfiguration section, string key, int fallback, int min, int max, List<(string, string)> errors)
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

        errors.Add((key, $"'{text}' must be a whole number from {min} to {max}"));
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
