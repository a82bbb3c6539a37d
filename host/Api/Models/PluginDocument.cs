namespace Gateway.Host.Api.Models;

/// <summary>One plugin folder in <c>GET /api/v1/plugins</c>.</summary>
/// <param name="Id">The plugin id (the folder name when it could not be loaded).</param>
/// <param name="Version">The plugin assembly's version; null when not loaded.</param>
/// <param name="State">"running", "failed" (loaded, did not start or was rejected), "notLoaded" (the folder could not be loaded) or "stopped".</param>
/// <param name="LoadError">Why it is not running; null when running.</param>
/// <param name="Folder">The plugin's folder.</param>
/// <param name="Routes">Its admin API routes as "METHOD path" (under /api/v1/plugins/&lt;id&gt;/).</param>
/// <param name="Listeners">Its endpoints.</param>
internal sealed record PluginDocument(
    string Id,
    string? Version,
    string State,
    string? LoadError,
    string Folder,
    IReadOnlyList<string> Routes,
    IReadOnlyList<ListenerDocument> Listeners);
