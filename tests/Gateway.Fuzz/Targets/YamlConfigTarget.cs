using System.Text;
using Gateway.Host.Configuration;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.WireGuard.Configuration;
using Microsoft.Extensions.Configuration;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// gateway.yaml as the host reads it (host/Configuration: YamlDotNet, the flattening, the host's keys, every plugin
/// section's listen/virtual/limits) and as the first-party plugins read their sections.
/// </summary>
/// <remarks>
/// Invariants (DESIGN §5): a bad file is reported as <see cref="ConfigException"/>, never another exception; every
/// error names this file and a line and column inside the text (or line 0 for no position) with a message; reading
/// the same text twice gives the same keys and values.
/// </remarks>
internal sealed class YamlConfigTarget : IFuzzTarget
{
    private const string FilePath = "/nonexistent/fuzz/gateway.yaml";

    public string Name => "yaml-config";

    public string Description => "gateway.yaml: only located config errors, never another exception";

    public void Run(ReadOnlySpan<byte> input)
    {
        string text = Encoding.UTF8.GetString(input);
        // An upper bound of the lines as YamlDotNet counts them: YAML 1.1 (§5.4) also breaks lines at NEL, LS and PS.
        int lines = 1 + text.Count('\n') + text.Count('\r') + text.Count('\u0085') + text.Count('\u2028') + text.Count('\u2029');
        ConfigDocument document;
        try
        {
            document = ConfigDocument.Parse(FilePath, text);
        }
        catch (ConfigException ex)
        {
            CheckErrors(ex.Errors, lines);
            return;
        }

        ConfigDocument again = ConfigDocument.Parse(FilePath, text);
        Check(again.Data.Count == document.Data.Count, "parsing the same text twice gave different keys");
        foreach ((string key, string? value) in document.Data)
        {
            Check(again.Data.TryGetValue(key, out string? other) && other == value, $"parsing the same text twice gave different values for {key}");
        }

        GatewayConfig config;
        try
        {
            config = GatewayConfigReader.Read(document, "/nonexistent/fuzz");
        }
        catch (ConfigException ex)
        {
            CheckErrors(ex.Errors, lines);
            return;
        }

        // The plugins' own readers on their sections: errors are collected, never thrown.
        IConfiguration root = config.Configuration;
        WireGuardConfigReader.Read(root.GetSection("wireguard"), Path.GetTempPath(), (_, message) => Check(message.Length > 0, "a wireguard error without a message"));
        var proxyErrors = new List<(string Key, string Message)>();
        HttpProxyOptionsReader.Read(root.GetSection("http-proxy"), proxyErrors);
        DnsDotOptionsValidator.Bind(root.GetSection("dns-dot"), null);
    }

    private static void CheckErrors(IReadOnlyList<ConfigError> errors, int lines)
    {
        Check(errors.Count > 0, "a ConfigException without errors");
        foreach (ConfigError error in errors)
        {
            Check(error.File == FilePath, $"an error names '{error.File}', not the file");
            Check(error.Message.Length > 0, "an error without a message");
            Check(error.Line >= 0 && error.Line <= lines + 1 && error.Column >= 0, $"an error at {error.Line}:{error.Column} is outside the text ({lines} lines)");
        }
    }
}
