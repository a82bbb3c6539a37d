using System.Reflection;
using Gateway.Sdk.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// Unknown keys of the <c>dns-dot</c> section, in the SDK's one wording (<see cref="SectionReader"/>): the section is
/// bound with ConfigurationBinder, which ignores a key it has no property for, so <c>cahce:</c> or
/// <c>upstreams[0].tlsname2</c> used to be dropped without a word. The known keys are the properties of
/// <see cref="DnsDotOptions"/> and of the options objects below it (found by reflection, so a new property is a known
/// key at once), plus the keys the host reads in every plugin section.
/// </summary>
internal static class DnsDotKeys
{
    /// <summary>
    /// Reports each key no options property binds, at its key path (and an item of a list of maps that is not a map);
    /// wrong values are left to the binder and the validator.
    /// </summary>
    public static void ReportUnknown(IConfiguration section, Action<string, string> report)
    {
        var reader = new SectionReader(section, "dns-dot", report);
        Walk(reader, typeof(DnsDotOptions));
        reader.Complete();
    }

    private static void Walk(SectionReader reader, Type type)
    {
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Instance | BindingFlags.Public))
        {
            if (property.GetIndexParameters().Length > 0 || property.SetMethod is not { IsPublic: true })
            {
                continue;
            }

            string key = char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
            Type propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            ConfigValueKind kind = reader.Kind(key);
            if (ListItemType(propertyType) is { } item && IsOptionsObject(item) && kind == ConfigValueKind.List)
            {
                foreach (SectionReader itemReader in reader.Maps(key))
                {
                    Walk(itemReader, item);
                }
            }
            else if (DictionaryValueType(propertyType) is { } value && IsOptionsObject(value) && kind == ConfigValueKind.Map)
            {
                foreach (KeyValuePair<string, SectionReader> named in reader.NamedMaps(key))
                {
                    Walk(named.Value, value);
                }
            }
            else if (IsOptionsObject(propertyType) && kind == ConfigValueKind.Map)
            {
                Walk(reader.Map(key), propertyType);
            }
            else
            {
                // A value, a list of values, or a shape the binder and the validator judge (wrong shapes are theirs).
                reader.Known(key);
            }
        }
    }

    /// <summary>An options class of this plugin (a map of keys), not a value type, string or collection.</summary>
    private static bool IsOptionsObject(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace?.StartsWith("Gateway.Plugins.DnsDot", StringComparison.Ordinal) == true;

    private static Type? ListItemType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0] : null;

    private static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1]
            : null;
}
