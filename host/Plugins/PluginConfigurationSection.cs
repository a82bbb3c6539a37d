using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Gateway.Host.Plugins;

/// <summary>
/// A plugin's live configuration section with its own reload token. Callbacks a plugin registers on the token are
/// held here rather than by the host's configuration root, so an unloaded plugin's code is not kept alive by them.
/// </summary>
internal sealed class PluginConfigurationSection : IConfigurationSection
{
    private readonly IConfigurationSection _inner;
    private ConfigurationReloadToken _token = new();

    public PluginConfigurationSection(IConfigurationSection inner)
    {
        _inner = inner;
    }

    public string Key => _inner.Key;

    public string Path => _inner.Path;

    public string? Value
    {
        get => _inner.Value;
        set => _inner.Value = value;
    }

    public string? this[string key]
    {
        get => _inner[key];
        set => _inner[key] = value;
    }

    public IEnumerable<IConfigurationSection> GetChildren() => _inner.GetChildren();

    public IConfigurationSection GetSection(string key) => _inner.GetSection(key);

    public IChangeToken GetReloadToken() => _token;

    /// <summary>Fires the token (after the host accepted a reloaded file).</summary>
    public void NotifyReload() => Interlocked.Exchange(ref _token, new ConfigurationReloadToken()).OnReload();

    /// <summary>Drops every callback the plugin registered (on unload).</summary>
    public void Detach() => Interlocked.Exchange(ref _token, new ConfigurationReloadToken());
}
