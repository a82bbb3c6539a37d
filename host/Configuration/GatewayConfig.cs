using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Configuration;

/// <summary>One accepted configuration: the parsed file, the host options and each plugin section's host-read keys. Immutable once built.</summary>
internal sealed class GatewayConfig
{
    public GatewayConfig(ConfigDocument document, HostOptions host, IReadOnlyDictionary<string, PluginSectionOptions> sections)
    {
        Document = document;
        Host = host;
        Sections = sections;
    }

    private IConfigurationRoot? _configuration;

    /// <summary>This configuration as Microsoft.Extensions.Configuration (for validating plugins against it before it goes live).</summary>
    public IConfigurationRoot Configuration => _configuration ??= GatewayConfigurationProvider.Build(Document.Data, out _);

    /// <summary>The flattened file with positions, for errors.</summary>
    public ConfigDocument Document { get; }

    /// <summary>The <c>host:</c> section.</summary>
    public HostOptions Host { get; }

    /// <summary>Every top-level section other than <c>host</c>, keyed by plugin id (case-insensitive).</summary>
    public IReadOnlyDictionary<string, PluginSectionOptions> Sections { get; }

    /// <summary>The section for <paramref name="pluginId"/>, or defaults when the file has none (the plugin still starts).</summary>
    public PluginSectionOptions SectionFor(string pluginId) =>
        Sections.TryGetValue(pluginId, out PluginSectionOptions? section) ? section : new PluginSectionOptions { Id = pluginId, Limits = Host.Limits };
}
