using System.Globalization;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Sdk.Configuration;

/// <summary>
/// Reads a plugin's configuration section with one wording of every error: typed values with defaults and ranges,
/// maps told apart from missing keys, and unknown keys reported once, with the known ones (the host's own keys of a
/// plugin section included). Write one <c>Read(SectionReader)</c> method that builds your options, and call it from
/// both <see cref="IGatewayPlugin.Validate"/> (errors reported) and <see cref="IGatewayPlugin.StartAsync"/>.
/// </summary>
/// <remarks>
/// <para>
/// Every key read through the reader (or named with <see cref="Known"/>) is known; <see cref="Complete"/> then reports
/// each other key of the section and of the child maps read with <see cref="Map"/>, <see cref="Maps"/> and
/// <see cref="NamedMaps"/>: <c>unknown key in echo.cache (known: enabled, maxEntries)</c>, at the key's file:line:col.
/// </para>
/// <para>
/// A key present without a value (<c>key:</c>, <c>key: {}</c>, <c>key: []</c>) reads as its default, like a missing
/// key; use <see cref="Kind"/> where the difference matters. A value of the wrong type or outside its range is
/// reported and read as the default, so one pass reports every problem of the section.
/// </para>
/// </remarks>
public sealed class SectionReader
{
    private readonly IConfiguration _section;
    private readonly string _path;
    private readonly string _display;
    private readonly bool _pluginSection;
    private readonly ErrorList _errors;
    private readonly List<string> _known = [];
    private readonly List<SectionReader> _children = [];
    private bool _completed;

    /// <summary>Reads the plugin section being validated; errors go to <paramref name="context"/>.</summary>
    public SectionReader(PluginValidationContext context)
        : this((context ?? throw new ArgumentNullException(nameof(context))).Configuration, context.PluginId, context.Error)
    {
    }

    /// <summary>Reads a plugin's section (for example <see cref="IPluginContext.Configuration"/> at start).</summary>
    /// <param name="section">The plugin's section.</param>
    /// <param name="pluginId">The plugin id, which names the section in messages.</param>
    /// <param name="report">Receives (key path below the section, message) for each error; null to only collect them in <see cref="Errors"/>.</param>
    public SectionReader(IConfiguration section, string pluginId, Action<string, string>? report = null)
        : this(section, string.Empty, pluginId, pluginSection: true, new ErrorList(report))
    {
    }

    private SectionReader(IConfiguration section, string path, string display, bool pluginSection, ErrorList errors)
    {
        _section = section ?? throw new ArgumentNullException(nameof(section));
        _path = path;
        _display = display;
        _pluginSection = pluginSection;
        _errors = errors;
    }

    /// <summary>
    /// The keys the host reads from every plugin section: <c>listen</c>, <c>virtual</c> (endpoints, given to the plugin
    /// as <see cref="IPluginContext.ConfiguredEndpoints"/>), <c>maxConnections</c>, <c>idleTimeoutSeconds</c> (limits of
    /// the plugin's TCP listeners) and <c>logLevel</c> (the plugin's log level). They are never unknown at the top of a
    /// plugin section; a plugin may read them too.
    /// </summary>
    public static IReadOnlyList<string> HostKeys { get; } = ["listen", "virtual", "maxConnections", "idleTimeoutSeconds", "logLevel"];

    /// <summary>The key path of this reader's section below the plugin section ("" at the top, "cache", "upstreams:0").</summary>
    public string Path => _path;

    /// <summary>Every error reported so far, by this reader, its children and its parent: (key path, message).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Errors => _errors.List;

    /// <summary>What <paramref name="key"/> holds: missing, empty, a value, a map or a list.</summary>
    public ConfigValueKind Kind(string key)
    {
        IConfigurationSection child = _section.GetSection(key);
        if (child.Value is not null)
        {
            return ConfigValueKind.Scalar;
        }

        bool any = false;
        bool allIndices = true;
        foreach (IConfigurationSection item in child.GetChildren())
        {
            any = true;
            allIndices &= int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _);
        }

        if (any)
        {
            return allIndices ? ConfigValueKind.List : ConfigValueKind.Map;
        }

        foreach (IConfigurationSection sibling in _section.GetChildren())
        {
            if (string.Equals(sibling.Key, key, StringComparison.OrdinalIgnoreCase))
            {
                return ConfigValueKind.Empty;
            }
        }

        return ConfigValueKind.Missing;
    }

    /// <summary>True when <paramref name="key"/> is in the file, even without a value.</summary>
    public bool Has(string key) => Kind(key) != ConfigValueKind.Missing;

    /// <summary>Declares keys that are read some other way (so <see cref="Complete"/> does not report them).</summary>
    public void Known(params string[] keys)
    {
        foreach (string key in keys)
        {
            Know(key);
        }
    }

    /// <summary>A text value, or <paramref name="defaultValue"/> when the key is missing or empty.</summary>
    public string? String(string key, string? defaultValue = null) => Scalar(key) ?? defaultValue;

    /// <summary>A text value that must be given; reports "missing: <paramref name="hint"/>" otherwise and returns "".</summary>
    /// <param name="key">The key.</param>
    /// <param name="hint">What to write, for the error ("the target's host:port, for example example.test:443").</param>
    public string RequiredString(string key, string hint)
    {
        string? value = Scalar(key);
        if (string.IsNullOrWhiteSpace(value))
        {
            if (Kind(key) is not (ConfigValueKind.Map or ConfigValueKind.List))
            {
                Error(key, "missing: " + hint);
            }

            return string.Empty;
        }

        return value;
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; the default when missing or wrong.</summary>
    public int Int(string key, int defaultValue, int min = 0, int max = int.MaxValue) =>
        (int)Long(key, defaultValue, min, max);

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>; the default when missing or wrong.</summary>
    public long Long(string key, long defaultValue, long min = 0, long max = long.MaxValue)
    {
        string? text = Scalar(key);
        if (text is null)
        {
            return defaultValue;
        }

        if (long.TryParse(text, min < 0 ? NumberStyles.AllowLeadingSign : NumberStyles.None, CultureInfo.InvariantCulture, out long value) &&
            value >= min && value <= max)
        {
            return value;
        }

        Error(key, $"'{text}' is not a whole number from {min} to {max}");
        return defaultValue;
    }

    /// <summary><c>true</c> or <c>false</c>; the default when missing or wrong.</summary>
    public bool Bool(string key, bool defaultValue)
    {
        string? text = Scalar(key);
        if (text is null)
        {
            return defaultValue;
        }

        if (bool.TryParse(text, out bool value))
        {
            return value;
        }

        Error(key, $"'{text}' is not true or false");
        return defaultValue;
    }

    /// <summary>
    /// A duration given in whole seconds (name such keys <c>...Seconds</c>), from <paramref name="minSeconds"/> to
    /// <paramref name="maxSeconds"/>. With <paramref name="zeroIsInfinite"/>, 0 reads as
    /// <see cref="Timeout.InfiniteTimeSpan"/> ("no limit").
    /// </summary>
    public TimeSpan Seconds(string key, TimeSpan defaultValue, int minSeconds = 0, int maxSeconds = 86_400, bool zeroIsInfinite = false)
    {
        if (Scalar(key) is null)
        {
            return defaultValue;
        }

        long seconds = Long(key, -1, minSeconds, maxSeconds);
        return seconds < 0 ? defaultValue : seconds == 0 && zeroIsInfinite ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(seconds);
    }

    /// <summary>One of <paramref name="allowed"/> (compared ignoring case, returned as spelled there); the default otherwise.</summary>
    public string OneOf(string key, string defaultValue, params string[] allowed)
    {
        string? text = Scalar(key);
        if (text is null)
        {
            return defaultValue;
        }

        foreach (string candidate in allowed)
        {
            if (string.Equals(candidate, text, StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        Error(key, $"'{text}' is not one of {string.Join(", ", allowed)}");
        return defaultValue;
    }

    /// <summary>A list of text values; one value stands for a one-item list. Empty when missing.</summary>
    public IReadOnlyList<string> Strings(string key)
    {
        Know(key);
        var items = new List<string>();
        switch (Kind(key))
        {
            case ConfigValueKind.Scalar:
                items.Add(_section[key]!);
                break;
            case ConfigValueKind.List:
                foreach (IConfigurationSection item in SortedItems(_section.GetSection(key)))
                {
                    if (item.Value is { } value)
                    {
                        items.Add(value);
                    }
                    else
                    {
                        Error($"{key}:{item.Key}", "expected a text value, found a map or list");
                    }
                }

                break;
            case ConfigValueKind.Map:
                Error(key, "expected a list, found a map");
                break;
        }

        return items;
    }

    /// <summary>
    /// A <see cref="Networking.HostPort"/> ("example.test:443", "10.0.0.5:80", "[fd00::5]:80"); null when missing
    /// (reported when <paramref name="required"/>) or wrong. Nothing is resolved here.
    /// </summary>
    public HostPort? HostPort(string key, bool required = false)
    {
        string? text = Scalar(key);
        if (text is null)
        {
            if (required)
            {
                Error(key, "missing: a host:port, for example example.test:443 or 192.0.2.10:80");
            }

            return null;
        }

        if (Networking.HostPort.TryParse(text, out HostPort value))
        {
            return value;
        }

        Error(key, $"'{text}' is not a host:port (a DNS name or an IP address, IPv6 as [addr]:port; port 1-65535)");
        return null;
    }

    /// <summary>An ip:port endpoint ("127.0.0.1:53", "[::1]:53"); null when missing or wrong.</summary>
    public NetEndpoint? Endpoint(string key)
    {
        string? text = Scalar(key);
        if (text is null)
        {
            return null;
        }

        if (NetEndpoint.TryParse(text, out NetEndpoint endpoint))
        {
            return endpoint;
        }

        Error(key, $"'{text}' is not an ip:port endpoint (IPv6 as [addr]:port; port 1-65535)");
        return null;
    }

    /// <summary>A list of networks in CIDR form ("10.0.0.0/8", a bare address is a /32 or /128); the default when missing.</summary>
    public IReadOnlyList<IpPrefix> Prefixes(string key, IReadOnlyList<IpPrefix> defaultValue)
    {
        if (Kind(key) is ConfigValueKind.Missing or ConfigValueKind.Empty)
        {
            Know(key);
            return defaultValue;
        }

        var prefixes = new List<IpPrefix>();
        IReadOnlyList<string> items = Strings(key);
        for (int i = 0; i < items.Count; i++)
        {
            if (IpPrefix.TryParse(items[i], out IpPrefix prefix))
            {
                prefixes.Add(prefix);
            }
            else
            {
                Error(Kind(key) == ConfigValueKind.List ? $"{key}:{i}" : key, $"'{items[i]}' is not a network in CIDR form, e.g. 10.0.0.0/8 or fd00::/8");
            }
        }

        return prefixes;
    }

    /// <summary>
    /// The map under <paramref name="key"/> as a child reader (its unknown keys are reported by <see cref="Complete"/>).
    /// A missing or empty key gives an empty map (every read then yields its default); a value or a list is reported
    /// and also gives an empty map. Use <see cref="Kind"/> first where "absent" means something else than "defaults".
    /// </summary>
    public SectionReader Map(string key)
    {
        Know(key);
        ConfigValueKind kind = Kind(key);
        if (kind is ConfigValueKind.Scalar or ConfigValueKind.List)
        {
            Error(key, kind == ConfigValueKind.Scalar ? $"'{_section[key]}' is not a map: write {key}: {{ ... }}" : "expected a map, found a list");

            // Reads below it yield defaults; its list items are not "unknown keys" worth a second error.
            SectionReader ignored = Child(_section.GetSection(key), key);
            ignored._completed = true;
            return ignored;
        }

        return Child(_section.GetSection(key), key);
    }

    /// <summary>A list of maps (<c>upstreams: [ { address: ... }, ... ]</c>), one child reader per item; empty when missing.</summary>
    public IReadOnlyList<SectionReader> Maps(string key)
    {
        Know(key);
        var readers = new List<SectionReader>();
        ConfigValueKind kind = Kind(key);
        if (kind is ConfigValueKind.Scalar or ConfigValueKind.Map)
        {
            Error(key, kind == ConfigValueKind.Scalar ? "expected a list of maps, found a value" : "expected a list of maps, found a map");
            return readers;
        }

        foreach (IConfigurationSection item in SortedItems(_section.GetSection(key)))
        {
            if (item.Value is not null)
            {
                Error($"{key}:{item.Key}", $"'{item.Value}' is not a map");
                continue;
            }

            readers.Add(Child(item, $"{key}:{item.Key}"));
        }

        return readers;
    }

    /// <summary>A map of named maps (<c>groups: { corp: { ... } }</c>), one child reader per name (in key order, as the configuration lists them); empty when missing.</summary>
    public IReadOnlyList<KeyValuePair<string, SectionReader>> NamedMaps(string key)
    {
        Know(key);
        var readers = new List<KeyValuePair<string, SectionReader>>();
        ConfigValueKind kind = Kind(key);
        if (kind is ConfigValueKind.Scalar or ConfigValueKind.List)
        {
            Error(key, kind == ConfigValueKind.Scalar ? "expected a map of named maps, found a value" : "expected a map of named maps, found a list");
            return readers;
        }

        foreach (IConfigurationSection item in _section.GetSection(key).GetChildren())
        {
            if (item.Value is not null)
            {
                Error($"{key}:{item.Key}", $"'{item.Value}' is not a map");
                continue;
            }

            readers.Add(new(item.Key, Child(item, $"{key}:{item.Key}")));
        }

        return readers;
    }

    /// <summary>Reports a problem with <paramref name="key"/> of this section (path made absolute for the host).</summary>
    public void Error(string key, string message) => _errors.Add(Combine(_path, key), message);

    /// <summary>
    /// Reports every key of this section (and of the child maps read) that was neither read nor declared, once each.
    /// Calling it again reports nothing new.
    /// </summary>
    /// <returns>True when no error at all was reported through this reader tree.</returns>
    public bool Complete()
    {
        if (!_completed)
        {
            _completed = true;
            ReportUnknown();
            foreach (SectionReader child in _children)
            {
                child.Complete();
            }
        }

        return _errors.List.Count == 0;
    }

    private void ReportUnknown()
    {
        List<string>? known = null;
        foreach (IConfigurationSection child in _section.GetChildren())
        {
            if (IsKnown(child.Key))
            {
                continue;
            }

            // A plugin that reads a host key itself (http-proxy's maxConnections) has it in _known already: once only.
            known ??= _pluginSection ? [.. _known, .. HostKeys.Where(key => !IsKnownOwn(key))] : _known;
            string list = known.Count == 0 ? "none" : string.Join(", ", known);
            Error(child.Key, $"unknown key in {_display} (known: {list})");
        }
    }

    private bool IsKnown(string key)
    {
        foreach (string known in _known)
        {
            if (string.Equals(known, key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        if (_pluginSection)
        {
            foreach (string host in HostKeys)
            {
                if (string.Equals(host, key, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private void Know(string key)
    {
        if (!IsKnownOwn(key))
        {
            _known.Add(key);
        }
    }

    private bool IsKnownOwn(string key)
    {
        foreach (string known in _known)
        {
            if (string.Equals(known, key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The key's value; null when missing or empty; reported (and null) when it is a map or list.</summary>
    private string? Scalar(string key)
    {
        Know(key);
        ConfigValueKind kind = Kind(key);
        if (kind is ConfigValueKind.Map or ConfigValueKind.List)
        {
            Error(key, kind == ConfigValueKind.Map ? "expected a value, found a map" : "expected a value, found a list");
            return null;
        }

        // Not trimmed: a quoted value keeps its spaces ("greeting: 'hi: '"); YAML already trims plain scalars.
        string? value = _section[key];
        return string.IsNullOrEmpty(value) ? null : value;
    }

    private SectionReader Child(IConfiguration section, string relativePath)
    {
        string display = _display + "." + DisplayPath(relativePath);
        var child = new SectionReader(section, Combine(_path, relativePath), display, pluginSection: false, _errors);
        _children.Add(child);
        return child;
    }

    private static IEnumerable<IConfigurationSection> SortedItems(IConfigurationSection list)
    {
        var items = new List<IConfigurationSection>(list.GetChildren());
        items.Sort(static (a, b) => Index(a).CompareTo(Index(b)));
        return items;

        static int Index(IConfigurationSection item) =>
            int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out int index) ? index : int.MaxValue;
    }

    private static string Combine(string path, string key) => path.Length == 0 ? key : key.Length == 0 ? path : path + ":" + key;

    /// <summary>
    /// The display form of a configuration key path, as the host prints it in errors:
    /// "dns-dot:upstreams:0:address" becomes "dns-dot.upstreams[0].address".
    /// </summary>
    public static string DisplayPath(string keyPath)
    {
        ArgumentNullException.ThrowIfNull(keyPath);
        var builder = new System.Text.StringBuilder(keyPath.Length + 4);
        foreach (string segment in keyPath.Split(':'))
        {
            if (builder.Length > 0 && segment.Length > 0 && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                builder.Append('[').Append(segment).Append(']');
            }
            else
            {
                if (builder.Length > 0)
                {
                    builder.Append('.');
                }

                builder.Append(segment);
            }
        }

        return builder.ToString();
    }

    private sealed class ErrorList
    {
        private readonly Action<string, string>? _report;

        public ErrorList(Action<string, string>? report)
        {
            _report = report;
        }

        public List<KeyValuePair<string, string>> List { get; } = [];

        public void Add(string path, string message)
        {
            foreach (KeyValuePair<string, string> existing in List)
            {
                if (existing.Key == path && existing.Value == message)
                {
                    return;
                }
            }

            List.Add(new(path, message));
            _report?.Invoke(path, message);
        }
    }
}
