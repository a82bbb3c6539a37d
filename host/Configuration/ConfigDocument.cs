using System.Collections;
using System.Globalization;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gateway.Host.Configuration;

/// <summary>
/// gateway.yaml flattened into configuration keys ("dns-dot:upstreams:0:address"), with the line and column of
/// every key so errors can name them, plus <c>GATEWAY_</c> environment overrides.
/// </summary>
/// <remarks>
/// The YamlDotNet representation model keeps the start mark of every node; the flattening follows the JSON
/// configuration provider's conventions (sequence items become indices, empty maps and lists become a null value
/// so their section still exists).
/// </remarks>
internal sealed class ConfigDocument
{
    /// <summary>The prefix of environment variables that override configuration keys.</summary>
    public const string EnvironmentPrefix = "GATEWAY_";

    private readonly Dictionary<string, string?> _data = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Mark> _positions = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _environmentSources = new(StringComparer.OrdinalIgnoreCase);

    private ConfigDocument(string filePath)
    {
        FilePath = filePath;
        Directory = Path.GetDirectoryName(filePath) ?? ".";
    }

    /// <summary>The config file (absolute path).</summary>
    public string FilePath { get; }

    /// <summary>The config file's folder; relative paths in the configuration resolve against it.</summary>
    public string Directory { get; }

    /// <summary>The flattened keys and values, YAML first, then environment overrides.</summary>
    public IReadOnlyDictionary<string, string?> Data => _data;

    /// <summary>Reads and parses <paramref name="path"/>; throws <see cref="ConfigException"/> for a missing file or bad YAML.</summary>
    public static ConfigDocument Load(string path, IDictionary? environment = null)
    {
        string full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new ConfigException(new ConfigError(full, 0, 0, string.Empty, "config file not found; pass --config FILE or create gateway.yaml"));
        }

        string text;
        try
        {
            text = File.ReadAllText(full, Encoding.UTF8);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(new ConfigError(full, 0, 0, string.Empty, $"cannot read the config file: {ex.Message}"));
        }

        return Parse(full, text, environment);
    }

    /// <summary>Parses YAML text as if read from <paramref name="filePath"/>.</summary>
    public static ConfigDocument Parse(string filePath, string text, IDictionary? environment = null)
    {
        var document = new ConfigDocument(Path.GetFullPath(filePath));
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(text));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException ex)
        {
            throw new ConfigException(new ConfigError(document.FilePath, (int)ex.Start.Line, (int)ex.Start.Column, string.Empty, YamlMessage(ex)));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way on some malformed flow collections; the last good event is the position.
            Mark mark = parser.Current?.End ?? Mark.Empty;
            throw new ConfigException(new ConfigError(document.FilePath, (int)mark.Line, (int)mark.Column, string.Empty, "invalid YAML: unterminated or malformed flow collection ([...] or {...}) after this point"));
        }
        catch (ArgumentException ex)
        {
            // The representation model rejects duplicate keys this way, without a position.
            throw new ConfigException(new ConfigError(document.FilePath, 1, 1, string.Empty, ex.Message));
        }

        var errors = new List<ConfigError>();
        if (stream.Documents.Count > 1)
        {
            errors.Add(document.ErrorAtMark(stream.Documents[1].RootNode.Start, string.Empty, "only one YAML document is allowed"));
        }

        if (stream.Documents.Count > 0)
        {
            YamlNode root = stream.Documents[0].RootNode;
            if (root is YamlMappingNode mapping)
            {
                document.Flatten(mapping, string.Empty, errors);
            }
            else if (!(root is YamlScalarNode scalar && IsNull(scalar)))
            {
                errors.Add(document.ErrorAtMark(root.Start, string.Empty, "the top level must be a map of sections (host:, dns-dot:, ...)"));
            }
        }

        if (environment is not null)
        {
            document.ApplyEnvironment(environment);
        }

        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        return document;
    }

    /// <summary>
    /// Maps an environment variable name to a configuration key: <c>GATEWAY_HOST__ADMIN__LISTEN</c> → "host:admin:listen".
    /// Plugin ids contain '-', which variable names cannot: '_' in the first (section) segment stands for '-'
    /// (<c>GATEWAY_DNS_DOT__CACHE__ENABLED</c> → "dns-dot:cache:enabled"). Null when not a gateway variable.
    /// </summary>
    public static string? EnvironmentKey(string variable)
    {
        if (!variable.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase) || variable.Length == EnvironmentPrefix.Length)
        {
            return null;
        }

        string[] segments = variable[EnvironmentPrefix.Length..].Split("__");
        if (Array.Exists(segments, string.IsNullOrEmpty))
        {
            return null;
        }

        // Variable names are upper case; keys are case-insensitive, and lower case reads better in errors.
        for (int i = 0; i < segments.Length; i++)
        {
            segments[i] = segments[i].ToLowerInvariant();
        }

        segments[0] = segments[0].Replace('_', '-');
        return string.Join(':', segments);
    }

    /// <summary>Turns a configuration key into the display form used in errors: "dns-dot:upstreams:0:address" → "dns-dot.upstreams[0].address".</summary>
    public static string DisplayPath(string key) => Gateway.Sdk.Configuration.SectionReader.DisplayPath(key);

    /// <summary>An error about <paramref name="key"/>, located at that key or its nearest configured ancestor.</summary>
    public ConfigError ErrorAt(string key, string message)
    {
        for (string probe = key; ; probe = Parent(probe))
        {
            if (_environmentSources.TryGetValue(probe, out string? variable))
            {
                return new ConfigError($"environment variable {variable}", 0, 0, DisplayPath(key), message);
            }

            if (_positions.TryGetValue(probe, out Mark mark))
            {
                return ErrorAtMark(mark, key, message);
            }

            if (probe.Length == 0)
            {
                return new ConfigError(FilePath, 1, 1, DisplayPath(key), message);
            }
        }
    }

    /// <summary>True when the YAML (or the environment) set <paramref name="key"/> itself.</summary>
    public bool Contains(string key) => _data.ContainsKey(key);

    private static string Parent(string key)
    {
        int colon = key.LastIndexOf(':');
        return colon < 0 ? string.Empty : key[..colon];
    }

    private ConfigError ErrorAtMark(Mark mark, string key, string message) =>
        new(FilePath, (int)mark.Line, (int)mark.Column, DisplayPath(key), message);

    private void Flatten(YamlNode node, string path, List<ConfigError> errors)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                if (mapping.Children.Count == 0)
                {
                    _data[path] = null;
                }

                foreach (KeyValuePair<YamlNode, YamlNode> entry in mapping.Children)
                {
                    if (entry.Key is not YamlScalarNode { Value: { Length: > 0 } name } || name.Contains(':'))
                    {
                        errors.Add(ErrorAtMark(entry.Key.Start, path, "keys must be plain names (no ':' and no maps or lists as keys)"));
                        continue;
                    }

                    string child = path.Length == 0 ? name : path + ":" + name;
                    if (_positions.ContainsKey(child))
                    {
                        errors.Add(ErrorAtMark(entry.Key.Start, child, "duplicate key (keys are case-insensitive)"));
                        continue;
                    }

                    _positions[child] = entry.Key.Start;
                    Flatten(entry.Value, child, errors);
                }

                break;
            case YamlSequenceNode sequence:
                if (sequence.Children.Count == 0)
                {
                    _data[path] = null;
                }

                for (int i = 0; i < sequence.Children.Count; i++)
                {
                    string child = path + ":" + i.ToString(CultureInfo.InvariantCulture);
                    _positions[child] = sequence.Children[i].Start;
                    Flatten(sequence.Children[i], child, errors);
                }

                break;
            case YamlScalarNode scalar:
                _data[path] = IsNull(scalar) ? null : scalar.Value;
                break;
            default:
                errors.Add(ErrorAtMark(node.Start, path, "unsupported YAML node"));
                break;
        }
    }

    private void ApplyEnvironment(IDictionary environment)
    {
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string variable && EnvironmentKey(variable) is { } key)
            {
                _data[key] = entry.Value as string;
                _environmentSources[key] = variable;
            }
        }
    }

    private static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";

    private static string YamlMessage(YamlException ex)
    {
        // YamlDotNet prefixes "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): "; we print the position ourselves.
        string message = ex.Message;
        int cut = message.IndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith('(') && cut > 0)
        {
            message = message[(cut + 3)..];
        }

        return "invalid YAML: " + message;
    }
}
