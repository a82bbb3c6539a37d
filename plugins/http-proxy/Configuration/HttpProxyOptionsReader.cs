using System.Globalization;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Sdk.Configuration;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>
/// Reads <see cref="HttpProxyOptions"/> from the plugin's section with the SDK's <see cref="SectionReader"/>, collecting
/// every bad key with its path instead of stopping at the first; unknown keys are reported in the SDK's one wording,
/// and the keys the host reads in every plugin section (listen, virtual, maxConnections, idleTimeoutSeconds,
/// logLevel) are known.
/// </summary>
internal static partial class HttpProxyOptionsReader
{
    /// <summary>Reads the options; <paramref name="errors"/> gets (key path, message) for each problem.</summary>
    public static HttpProxyOptions Read(IConfiguration section, List<(string Key, string Message)> errors)
    {
        var reader = new SectionReader(section, "http-proxy", (key, message) => errors.Add((key, message)));
        HttpProxyOptions defaults = new();
        var options = new HttpProxyOptions
        {
            AllowClients = ReadPrefixes(reader, section, "allowClients", defaults.AllowClients),
            DenyClients = ReadPrefixes(reader, section, "denyClients", defaults.DenyClients),
            AllowedPorts = ReadPorts(reader, section, "allowedPorts", defaults.AllowedPorts),
            ConnectPorts = ReadPorts(reader, section, "connectPorts", defaults.ConnectPorts),
            SocksListen = ReadList(reader, section, "socksListen", defaults.SocksListen, "an ip:port endpoint (127.0.0.1:1080, [::1]:1080)", static (text, into) =>
            {
                if (NetEndpoint.TryParse(text, out NetEndpoint endpoint) && endpoint.Port != 0)
                {
                    into.Add(endpoint);
                    return true;
                }

                return false;
            }),
            DenyDestinations = ReadDestinations(reader, section, "denyDestinations", defaults.DenyDestinations),
            AllowDestinations = ReadDestinations(reader, section, "allowDestinations", defaults.AllowDestinations),
            MaxConnections = reader.Int("maxConnections", defaults.MaxConnections, 1, 1_000_000),
            MaxHeaderBytes = reader.Int("maxHeaderBytes", defaults.MaxHeaderBytes, 1024, 1024 * 1024),
            MaxHeaderCount = reader.Int("maxHeaderCount", defaults.MaxHeaderCount, 8, 1000),
            KeepAliveTimeout = ReadSeconds(reader, "keepAliveTimeoutSeconds", defaults.KeepAliveTimeout),
            RequestHeadersTimeout = ReadSeconds(reader, "requestHeadersTimeoutSeconds", defaults.RequestHeadersTimeout),
            OriginConnectTimeout = ReadSeconds(reader, "originConnectTimeoutSeconds", defaults.OriginConnectTimeout),
            OriginResponseTimeout = ReadSeconds(reader, "originResponseTimeoutSeconds", defaults.OriginResponseTimeout),
            IdleTimeout = ReadSeconds(reader, "idleTimeoutSeconds", defaults.IdleTimeout),
            TunnelIdleTimeout = ReadSeconds(reader, "tunnelIdleTimeoutSeconds", defaults.TunnelIdleTimeout),
            PoolMaxIdlePerOrigin = reader.Int("poolMaxIdlePerOrigin", defaults.PoolMaxIdlePerOrigin, 0, 10_000),
            PoolIdleTimeout = ReadSeconds(reader, "poolIdleTimeoutSeconds", defaults.PoolIdleTimeout),
            BufferSize = reader.Int("bufferSize", defaults.BufferSize, 4096, 16 * 1024 * 1024),
            Cache = ReadCache(reader.Map("cache")),
            Auth = ReadAuth(reader),
            AccessLog = ReadAccessLog(reader),
            Parents = ReadParents(reader),
            NeverDirect = reader.Bool("neverDirect", defaults.NeverDirect),
        };
        reader.Known("auth", "accessLog");
        reader.Complete();
        return options;
    }

    private static HttpCacheOptions ReadCache(SectionReader cache)
    {
        HttpCacheOptions defaults = new();
        bool enabled = cache.Bool("enabled", defaults.Enabled);
        long maxBytes = ReadSize(cache, "maxBytes", defaults.MaxBytes, 64 * 1024, 64L << 30);
        long maxObjectBytes = ReadSize(cache, "maxObjectBytes", Math.Min(defaults.MaxObjectBytes, maxBytes), 0, 1L << 30);
        if (maxObjectBytes > maxBytes)
        {
            cache.Error("maxObjectBytes", $"{maxObjectBytes} is larger than cache.maxBytes ({maxBytes}); lower it or raise maxBytes");
        }

        TimeSpan heuristic = defaults.HeuristicMaxAge;
        if (cache.String("heuristicMaxAge") is { } heuristicText)
        {
            if (TryParseDuration(heuristicText, out TimeSpan parsed))
            {
                heuristic = parsed;
            }
            else
            {
                cache.Error("heuristicMaxAge", $"'{heuristicText}' must be seconds (3600) or a number with s, m, h or d (1h), at most 365d; 0 turns heuristic freshness off");
            }
        }

        return new HttpCacheOptions
        {
            Enabled = enabled,
            MaxBytes = maxBytes,
            MaxObjectBytes = maxObjectBytes,
            MaxEntries = cache.Int("maxEntries", defaults.MaxEntries, 1, 10_000_000),
            HeuristicMaxAge = heuristic,
            CollapsedForwarding = cache.Bool("collapsedForwarding", defaults.CollapsedForwarding),
            CollapsedWait = TimeSpan.FromMilliseconds(cache.Int("collapsedWaitMs", (int)defaults.CollapsedWait.TotalMilliseconds, 1, 600_000)),
        };
    }

    /// <summary>A byte count: digits with an optional unit (k/KiB, M/MiB, G/GiB, all powers of 1024).</summary>
    private static long ReadSize(SectionReader section, string key, long fallback, long min, long max)
    {
        string? text = section.String(key);
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

        section.Error(key, $"'{text}' must be a byte count from {min} to {max} (a number, optionally with KiB, MiB or GiB)");
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

    private static IReadOnlyList<IpPrefix> ReadPrefixes(SectionReader reader, IConfiguration section, string key, IReadOnlyList<IpPrefix> fallback) =>
        ReadList(reader, section, key, fallback, "an address or CIDR prefix (for example 10.0.0.0/8 or fd00::/8)", static (text, into) =>
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

    private static IReadOnlyList<DestinationRule> ReadDestinations(SectionReader reader, IConfiguration section, string key, IReadOnlyList<DestinationRule> fallback) =>
        ReadList(reader, section, key, fallback, $"an address, a CIDR prefix (169.254.0.0/16, fd00::/8) or one of {DestinationRule.KnownNames}", DestinationRule.TryParse);

    private static IReadOnlyList<int> ReadPorts(SectionReader reader, IConfiguration section, string key, IReadOnlyList<int> fallback) =>
        ReadList(reader, section, key, fallback, "a port (1-65535)", static (text, into) =>
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
    /// not the default); each entry <paramref name="tryAdd"/> refuses is reported at its own path ("key:2"). A single
    /// value is refused rather than read as a one-item list: <c>denyDestinations: loopback</c> would otherwise drop
    /// the other defaults silently.
    /// </summary>
    private static IReadOnlyList<T> ReadList<T>(SectionReader reader, IConfiguration section, string key, IReadOnlyList<T> fallback, string expected,
        Func<string, List<T>, bool> tryAdd)
    {
        reader.Known(key);
        switch (reader.Kind(key))
        {
            case ConfigValueKind.Missing:
                return fallback;
            case ConfigValueKind.Empty:
                return [];
            case ConfigValueKind.Scalar:
                reader.Error(key, $"'{section[key]}' is not a list: write [{section[key]}]");
                return fallback;
            case ConfigValueKind.Map:
                reader.Error(key, "expected a list, found a map");
                return fallback;
        }

        List<T> items = [];
        foreach (IConfigurationSection item in section.GetSection(key).GetChildren())
        {
            if (item.Value is not { } text)
            {
                reader.Error($"{key}:{item.Key}", "expected a text value, found a map or list");
            }
            else if (!tryAdd(text.Trim(), items))
            {
                reader.Error($"{key}:{item.Key}", $"'{text}' is not {expected}");
            }
        }

        return items;
    }

    // The auth: and accessLog: readers (HttpProxyOptionsReader.Features.cs) take these forms; they check their own keys.
    private static IReadOnlyList<T> ReadList<T>(IConfiguration section, string key, IReadOnlyList<T> fallback, List<(string, string)> errors, string expected,
        Func<string, List<T>, bool> tryAdd) =>
        ReadList(new SectionReader(section, "http-proxy", (k, m) => errors.Add((k, m))), section, key, fallback, expected, tryAdd);

    private static int ReadInt(IConfiguration section, string key, int fallback, int min, int max, List<(string, string)> errors) =>
        new SectionReader(section, "http-proxy", (k, m) => errors.Add((k, m))).Int(key, fallback, min, max);

    /// <summary>Seconds, fractions allowed (0.5), greater than 0 and at most a day; the fallback when missing or wrong.</summary>
    private static TimeSpan ReadSeconds(SectionReader reader, string key, TimeSpan fallback)
    {
        string? text = reader.String(key);
        if (text is null)
        {
            return fallback;
        }

        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && seconds <= 86_400)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        reader.Error(key, $"'{text}' must be a number of seconds greater than 0 and at most 86400");
        return fallback;
    }
}
