namespace Gateway.Sdk.Plugins;

/// <summary>
/// The entry point of a plugin. The host scans each plugin folder's main assembly for public,
/// non-abstract classes implementing this interface with a public parameterless constructor, and
/// creates one instance per folder.
/// </summary>
/// <remarks>
/// The plugin's configuration is the top-level section of gateway.yaml named by <see cref="Id"/>.
/// A plugin whose section is absent is still started, with an empty section; it should then stay idle
/// unless it has useful defaults.
/// </remarks>
public interface IGatewayPlugin
{
    /// <summary>The plugin id: lower case, digits and '-', for example "dns-dot". Names the config section, logs and metrics.</summary>
    string Id { get; }

    /// <summary>
    /// Checks the plugin's configuration without starting anything (used by <c>gateway check</c>, before
    /// <see cref="StartAsync"/>, and before a reloaded configuration is accepted). Report every problem
    /// through <paramref name="context"/> rather than throwing. The default accepts everything.
    /// </summary>
    void Validate(PluginValidationContext context)
    {
    }

    /// <summary>
    /// Starts the plugin: read configuration, bind endpoints, register routes and hooks. Registrations made
    /// through <paramref name="context"/> are undone by the host when the plugin stops or is unloaded.
    /// Throwing fails only this plugin; the host and other plugins keep serving. A start that throws or times out is
    /// followed by <see cref="StopAsync"/> (after the start has returned), so what it bound half-way is released.
    /// </summary>
    Task StartAsync(IPluginContext context, CancellationToken cancellationToken);

    /// <summary>
    /// Stops the plugin: finish or abort work in flight and release resources. Also called after a
    /// <see cref="StartAsync"/> that failed, so it must release whatever part of the start happened.
    /// </summary>
    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A new build of this plugin was loaded and validated and is about to start while this version drains (a plugin
    /// folder swap): give up what only one version can hold — a UDP port or unix socket the plugin binds itself, not
    /// through <see cref="IPluginContext.BindDatagram"/> or <see cref="IPluginContext.BindStream"/> (those the host hands
    /// over) — and the routes and hooks that would compete with the new version's. Keep the state needed to take them
    /// back: when the new version fails to start, <see cref="ReclaimExclusiveResourcesAsync"/> follows and this version
    /// serves on. The default holds nothing exclusive.
    /// </summary>
    Task ReleaseExclusiveResourcesAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The new build that <see cref="ReleaseExclusiveResourcesAsync"/> made way for failed to start: bind and register
    /// again what was released and keep serving as before. The default does nothing.
    /// </summary>
    Task ReclaimExclusiveResourcesAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
