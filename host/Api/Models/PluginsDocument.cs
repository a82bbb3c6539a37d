namespace Gateway.Host.Api.Models;

/// <summary><c>GET /api/v1/plugins</c>: every plugin folder seen, loaded or not, by id.</summary>
internal sealed record PluginsDocument(IReadOnlyList<PluginDocument> Plugins);
