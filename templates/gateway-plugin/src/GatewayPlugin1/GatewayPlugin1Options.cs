using Gateway.Sdk.Configuration;

namespace GatewayPlugin1;

/// <summary>
/// The <c>gateway-plugin-id:</c> section of gateway.yaml, besides the keys the host reads itself (<c>listen</c>,
/// <c>virtual</c>, <c>maxConnections</c>, <c>idleTimeoutSeconds</c>, <c>logLevel</c>).
/// </summary>
public sealed class GatewayPlugin1Options
{
    /// <summary>Text put before every answer (<c>greeting</c>). Defaults to "hello from gateway-plugin-id: ".</summary>
    public string Greeting { get; init; } = "hello from gateway-plugin-id: ";

    /// <summary>
    /// Longest TCP line accepted, in bytes (<c>maxLineBytes</c>, 16–65536); a longer line closes the connection, so a
    /// client cannot make the plugin buffer without bound. Defaults to 1024.
    /// </summary>
    public int MaxLineBytes { get; init; } = 1024;

    /// <summary>
    /// Reads the section. Called by Validate (errors reported with file:line:col, unknown keys listed) and by
    /// StartAsync (the host validated the section before, so the values are good).
    /// </summary>
    public static GatewayPlugin1Options Read(SectionReader section)
    {
        var defaults = new GatewayPlugin1Options();
        return new GatewayPlugin1Options
        {
            Greeting = section.String("greeting", defaults.Greeting)!,
            MaxLineBytes = section.Int("maxLineBytes", defaults.MaxLineBytes, min: 16, max: 65_536),
        };
    }
}
