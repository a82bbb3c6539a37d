using Gateway.Plugins.DnsDot.Configuration;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>A validated <c>lists:</c> entry; two equal definitions describe the same list (a reload keeps its state).</summary>
internal sealed record ListDefinition(string Name, Uri? Url, string? File, bool IsAllow, ListFormat Format, TimeSpan Refresh, long MaxBytes, TimeSpan Timeout)
{
    /// <summary>List names: letters, digits, '-', '_' and '.', at most 64 (they become file names and metric tags).</summary>
    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 64 && name[0] != '.' && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Builds the definition of a validated entry (see <see cref="ListOptionsValidator"/>).</summary>
    public static ListDefinition From(ListOptions options, string configDirectory)
    {
        Durations.TryParse(options.Refresh, out TimeSpan refresh);
        return new ListDefinition(
            options.Name!,
            options.Url is { } url ? new Uri(url) : null,
            options.File is { } file ? Path.GetFullPath(file, configDirectory) : null,
            string.Equals(options.Kind, "allow", StringComparison.OrdinalIgnoreCase),
            Enum.Parse<ListFormat>(options.Format, ignoreCase: true),
            refresh,
            (long)options.MaxSizeMB * 1024 * 1024,
            TimeSpan.FromSeconds(options.TimeoutSeconds));
    }
}
