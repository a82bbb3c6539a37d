using Gateway.Host.Plugins;
using Gateway.Sdk;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Gateway.Tests.Host.Plugins;

/// <summary>
/// Plugins built against a newer SDK major version are refused with a message naming both versions, whether the
/// folder has a deps.json (main assembly named) or not (the loader probes every dll). The "future" plugin is
/// compiled here with Roslyn against a Gateway.Sdk of the next major version.
/// </summary>
public sealed class PluginAssemblyLoaderTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "gw-sdk-major-" + Guid.NewGuid().ToString("N"), "future");

    public PluginAssemblyLoaderTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(Path.GetDirectoryName(_folder)!, recursive: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_PluginBuiltAgainstNextSdkMajor_RefusedNamingBothVersions(bool withDepsJson)
    {
        int next = GatewaySdk.MajorVersion + 1;
        File.WriteAllBytes(Path.Combine(_folder, "Future.Plugin.dll"), FuturePlugin(next));
        if (withDepsJson)
        {
            File.WriteAllText(Path.Combine(_folder, "Future.Plugin.deps.json"), """
                {"runtimeTarget":{"name":".NETCoreApp,Version=v10.0"},
                 "targets":{".NETCoreApp,Version=v10.0":{"Future.Plugin/1.0.0":{"runtime":{"Future.Plugin.dll":{}}}}},
                 "libraries":{"Future.Plugin/1.0.0":{"type":"project","serviceable":false,"sha512":""}}}
                """);
        }

        PluginLoadException error = Assert.Throws<PluginLoadException>(() => PluginAssemblyLoader.Load(_folder));

        Assert.Contains($"built against Gateway.Sdk {next}.0.0.0", error.Message);
        Assert.Contains($"major {GatewaySdk.MajorVersion}", error.Message);
    }

    /// <summary>A plugin assembly whose Gateway.Sdk reference has version <paramref name="sdkMajor"/>.0.0.0.</summary>
    private static byte[] FuturePlugin(int sdkMajor)
    {
        MetadataReference[] framework =
        [
            MetadataReference.CreateFromFile(typeof(object).Assembly.Location),
            MetadataReference.CreateFromFile(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Runtime.dll")),
        ];
        byte[] sdk = Emit("Gateway.Sdk", $$"""
            [assembly: System.Reflection.AssemblyVersion("{{sdkMajor}}.0.0.0")]
            namespace Gateway.Sdk.Plugins { public interface IGatewayPlugin { string Id { get; } } }
            """, framework);
        return Emit("Future.Plugin", """
            namespace Future { public sealed class FuturePlugin : Gateway.Sdk.Plugins.IGatewayPlugin { public string Id => "future"; } }
            """, [.. framework, MetadataReference.CreateFromImage(sdk)]);
    }

    private static byte[] Emit(string name, string code, MetadataReference[] references)
    {
        CSharpCompilation compilation = CSharpCompilation.Create(
            name,
            [CSharpSyntaxTree.ParseText(code)],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        using var image = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult result = compilation.Emit(image);
        Assert.True(result.Success, string.Join("; ", result.Diagnostics));
        return image.ToArray();
    }
}
