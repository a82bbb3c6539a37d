using System.Globalization;
using Gateway.Host.Nat;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Configuration;

/// <summary>
/// Validates a <see cref="ConfigDocument"/> and reads the host's keys: the <c>host:</c> section (unknown keys are
/// errors) and <c>listen:</c>/<c>virtual:</c>/limits of every plugin section. Collects every error before failing.
/// </summary>
internal sealed partial class GatewayConfigReader
{
    /// <summary>The top-level key of the host's own section.</summary>
    public const string HostSection = "host";

    private readonly ConfigDocument _document;
    private readonly IConfiguration _configuration;
    private readonly List<ConfigError> _errors = [];

    private GatewayConfigReader(ConfigDocument document)
    {
        _document = document;
        _configuration = new ConfigurationBuilder().Add(new GatewayConfigurationProvider(document.Data)).Build();
    }

    /// <summary>Loads, parses and validates <paramref name="path"/>; throws <see cref="ConfigException"/> with every error.</summary>
    public static GatewayConfig Load(string path, string appDirectory, System.Collections.IDictionary? environment) =>
        Read(ConfigDocument.Load(path, environment), appDirectory);

    /// <summary>
    /// Loads and parses <paramref name="path"/> like <see cref="Load"/>, but returns the config even when keys are
    /// invalid (those keep their defaults) and adds their errors to <paramref name="errors"/>, so plugins can still
    /// validate their sections and every error is reported at once. Unreadable YAML still throws.
    /// </summary>
    public static GatewayConfig LoadWithErrors(string path, string appDirectory, System.Collections.IDictionary? environment, List<ConfigError> errors) =>
        Read(ConfigDocument.Load(path, environment), appDirectory, errors);

    /// <summary>Validates <paramref name="document"/>; throws <see cref="ConfigException"/> with every error.</summary>
    public static GatewayConfig Read(ConfigDocument document, string appDirectory)
    {
        var errors = new List<ConfigError>();
        GatewayConfig config = Read(document, appDirectory, errors);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        return config;
    }

    private static GatewayConfig Read(ConfigDocument document, string appDirectory, List<ConfigError> errors)
    {
        var reader = new GatewayConfigReader(document);
        HostOptions host = reader.ReadHost(appDirectory);
        var sections = new Dictionary<string, PluginSectionOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection section in reader._configuration.GetChildren())
        {
            if (!string.Equals(section.Key, HostSection, StringComparison.OrdinalIgnoreCase))
            {
                sections[section.Key] = reader.ReadPluginSection(section, host.Limits);
            }
        }

        reader._errors.Sort((a, b) => a.Line != b.Line ? a.Line.CompareTo(b.Line) : a.Column.CompareTo(b.Column));
        errors.AddRange(reader._errors);
        return new GatewayConfig(document, host, sections);
    }

    private HostOptions ReadHost(string appDirectory)
    {
        var options = new HostOptions();
        IConfigurationSection host = _configuration.GetSection(HostSection);
        if (IsScalar(host) && host.Value is { Length: > 0 })
        {
            Error(host.Path, "expected a map (plugins:, drainTimeoutSeconds:, tun:, admin:, statsd:, otlp:, limits:, logLevel:)");
        }

        foreach (IConfigurationSection child in host.GetChildren())
        {
            switch (child.Key.ToLowerInvariant())
            {
                case "plugins":
                    foreach (string folder in ReadStringList(child))
                    {
                        options.Plugins.Add(Path.GetFullPath(folder, _document.Directory));
                    }

                    break;
                case "tun":
                    ReadTun(child, options.Tun);
                    break;
                case "admin":
                    ReadAdmin(child, options.Admin);
                    break;
                case "otlp":
                    ReadOtlp(child, options.Otlp);
                    break;
                case "statsd":
                    ExpectKeys(child, "address");
                    options.Statsd.Address = ReadEndpoint(child.GetSection("address"));
                    break;
                case "limits":
                    ExpectKeys(child, "maxConnections", "idleTimeoutSeconds");
                    options.Limits.MaxConnections = ReadInt(child.GetSection("maxConnections"), 1, 1_000_000) ?? LimitsOptions.DefaultMaxConnections;
                    options.Limits.IdleTimeoutSeconds = ReadInt(child.GetSection("idleTimeoutSeconds"), 0, 86_400) ?? LimitsOptions.DefaultIdleTimeoutSeconds;
                    break;
                case "loglevel":
                    options.LogLevel = ReadLogLevel(child);
                    break;
                case "draintimeoutseconds":
                    options.DrainTimeoutSeconds = ReadInt(child, 0, 3600) ?? HostOptions.DefaultDrainTimeoutSeconds;
                    break;
                default:
                    Error(child.Path, "unknown key in host (known: plugins, drainTimeoutSeconds, tun, admin, statsd, otlp, limits, logLevel)");
                    break;
            }
        }

        if (options.Plugins.Count == 0)
        {
            options.Plugins.Add(Path.Combine(appDirectory, "plugins"));
        }

        return options;
    }

    private void ReadTun(IConfigurationSection tun, TunOptions options)
    {
        ExpectKeys(tun, "enabled", "name", "addresses", "mtu", "natMaxPerSource", "natMaxSessions", "natHalfOpenTimeoutSeconds");
        options.Enabled = ReadBool(tun.GetSection("enabled")) ?? false;
        IConfigurationSection name = tun.GetSection("name");
        if (name.Exists())
        {
            options.Name = IsScalar(name) ? name.Value ?? string.Empty : string.Empty;
        }

        if (options.Enabled && string.IsNullOrWhiteSpace(options.Name))
        {
            Error(name.Path, "required when tun.enabled is true: the interface name, e.g. gw0");
        }
        else if (options.Name.Length > 15 || options.Name.Contains('/') || options.Name.Contains(' '))
        {
            Error(name.Path, $"'{options.Name}' is not an interface name (at most 15 characters, no '/' or spaces)");
        }

        IConfigurationSection addresses = tun.GetSection("addresses");
        bool hasV6 = false;
        if (addresses.Exists())
        {
            options.Addresses = [];
            foreach ((string path, string text) in ReadStringItems(addresses))
            {
                if (!IpPrefix.TryParse(text, out IpPrefix prefix) || !text.Contains('/'))
                {
                    Error(path, $"'{text}' is not an address with prefix length (CIDR), e.g. 10.30.30.1/24 or fd00::1/64");
                    continue;
                }

                hasV6 |= prefix.Network.IsV6;
                options.Addresses.Add(text.Trim());
            }

            if (options.Enabled && options.Addresses.Count == 0)
            {
                Error(addresses.Path, "required when tun.enabled is true: at least one address, e.g. [10.30.30.1/24]");
            }
        }

        IConfigurationSection mtu = tun.GetSection("mtu");
        options.Mtu = ReadInt(mtu, 576, 65535) ?? options.Mtu;
        if (hasV6 && options.Mtu < 1280)
        {
            Error(mtu.Path, $"{options.Mtu} is below 1280, the IPv6 minimum MTU (RFC 8200 §5); raise it or remove the IPv6 address");
        }

        options.NatMaxPerSource = ReadInt(tun.GetSection("natMaxPerSource"), 1, NatLimits.PortCount) ?? options.NatMaxPerSource;
        options.NatMaxSessions = ReadInt(tun.GetSection("natMaxSessions"), 1, NatLimits.PortCount) ?? options.NatMaxSessions;
        options.NatHalfOpenTimeoutSeconds = ReadInt(tun.GetSection("natHalfOpenTimeoutSeconds"), 5, 240) ?? options.NatHalfOpenTimeoutSeconds;
    }

    private PluginSectionOptions ReadPluginSection(IConfigurationSection section, LimitsOptions defaults)
    {
        var limits = new LimitsOptions
        {
            MaxConnections = ReadInt(section.GetSection("maxConnections"), 1, 1_000_000) ?? defaults.MaxConnections,
            IdleTimeoutSeconds = ReadInt(section.GetSection("idleTimeoutSeconds"), 0, 86_400) ?? defaults.IdleTimeoutSeconds,
        };
        var options = new PluginSectionOptions { Id = section.Key, Limits = limits };
        if (section.Key.Any(c => !(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            Error(section.Path, "section names are plugin ids: lower case letters, digits and '-'");
        }

        ReadLogLevel(section.GetSection("logLevel"));
        ReadEndpoints(section.GetSection("listen"), EndpointKind.HostSocket, options.Endpoints);
        ReadEndpoints(section.GetSection("virtual"), EndpointKind.Virtual, options.Endpoints);
        return options;
    }

    private void ReadEndpoints(IConfigurationSection list, EndpointKind kind, List<ServiceEndpoint> into)
    {
        foreach ((string path, string text) in ReadStringItems(list))
        {
            if (!NetEndpoint.TryParse(text, out NetEndpoint endpoint))
            {
                Error(path, $"'{text}' is not an ip:port endpoint (IPv6 as [addr]:port; port 1-65535)");
                continue;
            }

            if (kind == EndpointKind.Virtual && endpoint.Address.IsUnspecified)
            {
                Error(path, $"'{text}': a virtual endpoint needs a specific address, not a wildcard");
                continue;
            }

            var service = new ServiceEndpoint(kind, endpoint);
            if (into.Contains(service))
            {
                Error(path, $"'{text}' is listed twice");
                continue;
            }

            into.Add(service);
        }
    }

    private NetEndpoint? ReadEndpoint(IConfigurationSection key)
    {
        if (!key.Exists() || (IsScalar(key) && string.IsNullOrWhiteSpace(key.Value)))
        {
            return null;
        }

        if (!IsScalar(key) || !NetEndpoint.TryParse(key.Value, out NetEndpoint endpoint))
        {
            Error(key.Path, $"'{key.Value}' is not an ip:port endpoint (IPv6 as [addr]:port; port 1-65535)");
            return null;
        }

        return endpoint;
    }

    private bool? ReadBool(IConfigurationSection key)
    {
        if (!key.Exists() || (IsScalar(key) && key.Value is null))
        {
            return null;
        }

        if (IsScalar(key) && bool.TryParse(key.Value, out bool value))
        {
            return value;
        }

        Error(key.Path, $"'{key.Value}' is not true or false");
        return null;
    }

    private int? ReadInt(IConfigurationSection key, int min, int max)
    {
        if (!key.Exists() || (IsScalar(key) && key.Value is null))
        {
            return null;
        }

        if (IsScalar(key) && int.TryParse(key.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max)
        {
            return value;
        }

        Error(key.Path, $"'{key.Value}' is not a whole number from {min} to {max}");
        return null;
    }

    private LogLevel? ReadLogLevel(IConfigurationSection key)
    {
        if (key.Value is null)
        {
            return null;
        }

        if (VerbosityNames.TryParse(key.Value, out LogLevel level))
        {
            return level;
        }

        Error(key.Path, $"'{key.Value}' is not one of error, warn, info, debug");
        return null;
    }

    private IEnumerable<string> ReadStringList(IConfigurationSection list)
    {
        foreach ((_, string text) in ReadStringItems(list))
        {
            yield return text;
        }
    }

    /// <summary>A list of scalars, or one scalar standing for a one-item list.</summary>
    private List<(string Path, string Text)> ReadStringItems(IConfigurationSection list)
    {
        var items = new List<(string, string)>();
        if (!list.Exists())
        {
            return items;
        }

        if (IsScalar(list))
        {
            if (!string.IsNullOrWhiteSpace(list.Value))
            {
                items.Add((list.Path, list.Value));
            }

            return items;
        }

        foreach (IConfigurationSection item in list.GetChildren().OrderBy(c => int.TryParse(c.Key, out int i) ? i : int.MaxValue))
        {
            if (!int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                Error(item.Path, "expected a list item, found a key");
            }
            else if (!IsScalar(item) || string.IsNullOrWhiteSpace(item.Value))
            {
                Error(item.Path, "expected a text value");
            }
            else
            {
                items.Add((item.Path, item.Value));
            }
        }

        return items;
    }

    private void ExpectKeys(IConfigurationSection section, params string[] known)
    {
        if (IsScalar(section) && section.Value is { Length: > 0 })
        {
            Error(section.Path, $"expected a map with {string.Join(", ", known)}");
            return;
        }

        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                Error(child.Path, $"unknown key in {ConfigDocument.DisplayPath(section.Path)} (known: {string.Join(", ", known)})");
            }
        }
    }

    private static bool IsScalar(IConfigurationSection section) => !section.GetChildren().Any();

    private void Error(string key, string message) => _errors.Add(_document.ErrorAt(key, message));
}
