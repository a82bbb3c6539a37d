using Microsoft.Extensions.Configuration;

namespace Gateway.Sdk.Plugins;

/// <summary>A configuration problem found by a plugin.</summary>
/// <param name="KeyPath">
/// The key path below the plugin's section, with ':' separators and list indices ("upstreams:0:address"),
/// or null when <see cref="File"/> gives the location. The host turns it into file:line:col.
/// </param>
/// <param name="Message">What is wrong and what to do, in one line.</param>
/// <param name="File">For problems in other files (rule scripts, block lists): that file.</param>
/// <param name="Line">1-based line in <see cref="File"/>, or 0.</param>
/// <param name="Column">1-based column in <see cref="File"/>, or 0.</param>
public sealed record PluginConfigError(string? KeyPath, string Message, string? File = null, int Line = 0, int Column = 0);

/// <summary>Given to <see cref="IGatewayPlugin.Validate"/>: the configuration to check and where to report problems.</summary>
public sealed class PluginValidationContext
{
    private readonly List<PluginConfigError> _errors = new();
    private readonly List<PluginConfigError> _warnings = new();

    /// <summary>Created by the host (or by tests).</summary>
    public PluginValidationContext(string pluginId, IConfiguration configuration, string configDirectory)
    {
        PluginId = pluginId;
        Configuration = configuration;
        ConfigDirectory = configDirectory;
    }

    /// <summary>The plugin's id.</summary>
    public string PluginId { get; }

    /// <summary>The plugin's configuration section to validate.</summary>
    public IConfiguration Configuration { get; }

    /// <summary>The folder of the configuration file; relative paths are resolved against it.</summary>
    public string ConfigDirectory { get; }

    /// <summary>
    /// The plugin's own folder (where its assemblies and files are), as <see cref="IPluginContext.PluginDirectory"/>
    /// gives it at start; empty when the caller does not know it (a test validating a plugin loaded from elsewhere).
    /// </summary>
    public string PluginDirectory { get; init; } = string.Empty;

    /// <summary>
    /// True when the host validates right before starting the plugin (<c>gateway run</c>, a plugin dropped in): the
    /// plugin may leave a check that its start repeats anyway, and that is too slow for the ready path, to the start
    /// (dns-dot compiles rule scripts that are not in its cache in the background, and reports their errors then).
    /// False for <c>gateway check</c> and configuration reloads: validate in full. Added in SDK 1.x (additive).
    /// </summary>
    public bool BeforeStart { get; init; }

    /// <summary>The problems reported so far.</summary>
    public IReadOnlyList<PluginConfigError> Errors => _errors;

    /// <summary>
    /// Things that work but deserve a look (a plaintext DNS upstream on a public address): <c>gateway check</c> prints
    /// them as <c>file:line:col: warning: ...</c> and still exits 0. Added in SDK 1.x (additive).
    /// </summary>
    public IReadOnlyList<PluginConfigError> Warnings => _warnings;

    /// <summary>Reports something about a key of the plugin's section that is allowed but risky; it does not fail validation.</summary>
    public void Warn(string keyPath, string message) => _warnings.Add(new PluginConfigError(keyPath, message));

    /// <summary>Reports a problem with a key of the plugin's section ("upstreams:0:tlsName").</summary>
    public void Error(string keyPath, string message) => _errors.Add(new PluginConfigError(keyPath, message));

    /// <summary>Reports a problem at a position in another file (a rule script, a block list).</summary>
    public void ErrorAt(string file, int line, int column, string message) =>
        _errors.Add(new PluginConfigError(null, message, file, line, column));
}
