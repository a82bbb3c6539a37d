using System.Reflection;
using Gateway.Plugins.DnsDot.Rules;

namespace Gateway.Tests.DnsDot.Rules;

/// <summary>The editor stubs (examples/rules/editor) must offer exactly the calls scripts really have.</summary>
public sealed class RuleScriptEditorStubsTests
{
    [Fact]
    public void EditorStubs_SameCallsAsRuleScriptGlobals()
    {
        string stubs = File.ReadAllText(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../examples/rules/editor/RuleScriptStubs.cs")));

        foreach (MethodInfo method in typeof(RuleScriptGlobals).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        {
            if (method.IsSpecialName)
            {
                continue;
            }

            string parameters = string.Join(", ", method.GetParameters().Select(Describe));
            string signature = $"public static {TypeName(method.ReturnType)} {method.Name}({parameters})";
            Assert.True(stubs.Contains(signature, StringComparison.Ordinal), $"editor stub missing: {signature}");
        }

        foreach (PropertyInfo property in typeof(RuleScriptGlobals).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.Contains($"public static {TypeName(property.PropertyType)} {property.Name} =>", stubs, StringComparison.Ordinal);
        }
    }

    private static string Describe(ParameterInfo parameter)
    {
        string prefix = parameter.IsDefined(typeof(ParamArrayAttribute)) ? "params " : "";
        string suffix = parameter.HasDefaultValue ? $" = {parameter.DefaultValue}" : "";
        return $"{prefix}{TypeName(parameter.ParameterType)} {parameter.Name}{suffix}";
    }

    private static string TypeName(Type type) => type switch
    {
        _ when type == typeof(void) => "void",
        _ when type == typeof(string) => "string",
        _ when type == typeof(int) => "int",
        _ when type == typeof(string[]) => "string[]",
        { IsGenericType: true } => $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>",
        _ => type.Name,
    };
}
