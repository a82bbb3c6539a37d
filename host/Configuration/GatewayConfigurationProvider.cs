using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Configuration;

/// <summary>
/// Serves the flattened gateway.yaml (<see cref="ConfigDocument"/>) to Microsoft.Extensions.Configuration. The host
/// reads and validates files itself and only then swaps the data in (<see cref="Apply"/>), so a bad reload never
/// reaches a plugin; the swap fires the usual reload token.
/// </summary>
internal sealed class GatewayConfigurationProvider : ConfigurationProvider, IConfigurationSource
{
    public GatewayConfigurationProvider(IReadOnlyDictionary<string, string?> data)
    {
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Builds a configuration root over <paramref name="data"/>, returning the provider for later swaps.</summary>
    public static IConfigurationRoot Build(IReadOnlyDictionary<string, string?> data, out GatewayConfigurationProvider provider)
    {
        provider = new GatewayConfigurationProvider(data);
        return new ConfigurationBuilder().Add(provider).Build();
    }

    /// <summary>Replaces every key with <paramref name="data"/> and signals the reload token.</summary>
    public void Apply(IReadOnlyDictionary<string, string?> data)
    {
        Data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
        OnReload();
    }

    /// <inheritdoc/>
    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
}
