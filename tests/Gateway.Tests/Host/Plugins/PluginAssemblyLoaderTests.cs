using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Gateway.Host.Plugins;
using Gateway.Sdk;
using Gateway.Sdk.Plugins;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Gateway.Tests.Host.Plugins;

/// <summary>
/// The loader on McMaster.NETCore.Plugins: a plugin shares the SDK and Microsoft.Extensions abstractions with the host,
/// runs in a collectible context that dies when unloaded, resolves a shared framework the host does not reference, and
/// is refused (with a message naming both versions) when built against a newer SDK major or a newer shared assembly,
/// whether the folder has a deps.json (main assembly named) or not (the loader probes every dll). The plugins are
/// compiled here with Roslyn.
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

    [Fact]
    public void Load_PluginFolder_SharesSdkAndAbstractionsWithHostAndIsCollectible()
    {
        File.WriteAllBytes(Path.Combine(_folder, "Probe.Plugin.dll"), ProbePlugin("""
            public static string Where() =>
                System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(typeof(Microsoft.Extensions.Configuration.IConfiguration).Assembly)!.Name + "|" +
                System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(typeof(Gateway.Sdk.Plugins.IGatewayPlugin).Assembly)!.Name;
            """));

        PluginAssemblyLoader.Result result = PluginAssemblyLoader.Load(_folder);
        try
        {
            // The cast to the host's IGatewayPlugin worked (else Load throws); the abstractions bind to the host's copies.
            Assert.Equal("probe", result.Plugin.Id);
            Assert.Equal("Default|Default", Call(result.Plugin, "Where"));
            AssemblyLoadContext own = AssemblyLoadContext.GetLoadContext(result.Plugin.GetType().Assembly)!;
            Assert.True(own.IsCollectible);
            Assert.NotSame(AssemblyLoadContext.Default, own);
        }
        finally
        {
            result.Loader.Dispose();
        }
    }

    [Fact]
    public void Load_FolderCarriesItsOwnCopyOfSharedAbstractions_StillBindsToTheHostsCopy()
    {
        // Only carried copies get McMaster's eager "prefer the host's" rule (CarriedBy); this proves it still holds.
        File.WriteAllBytes(Path.Combine(_folder, "Probe.Plugin.dll"), ProbePlugin("""
            public static string Where() =>
                System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(typeof(Microsoft.Extensions.Configuration.IConfiguration).Assembly)!.Name + "|" +
                System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(typeof(Microsoft.Extensions.Logging.ILogger).Assembly)!.Name;
            """));
        foreach (Type type in (Type[])[typeof(Microsoft.Extensions.Configuration.IConfiguration), typeof(Microsoft.Extensions.Logging.ILogger)])
        {
            File.Copy(type.Assembly.Location, Path.Combine(_folder, Path.GetFileName(type.Assembly.Location)));
        }

        Assert.Equal(2, HostSharedAssemblies.CarriedBy(_folder).Count);
        PluginAssemblyLoader.Result result = PluginAssemblyLoader.Load(_folder);
        try
        {
            Assert.Equal("Default|Default", Call(result.Plugin, "Where"));
        }
        finally
        {
            result.Loader.Dispose();
        }
    }

    [Fact]
    public async Task Load_ThenDispose_LoadContextIsCollected()
    {
        File.WriteAllBytes(Path.Combine(_folder, "Probe.Plugin.dll"), ProbePlugin(string.Empty));

        WeakReference alive = LoadAndDispose(_folder);

        for (int i = 0; i < 50 && alive.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(20);
        }

        Assert.False(alive.IsAlive, "the plugin's load context survived its unload");
    }

    [Fact]
    public void Load_PluginOnAspNetCoreFramework_ResolvesFrameworkFromInstalledSharedFramework()
    {
        string? aspnet = SharedFrameworkResolver.FrameworkDirectories(WriteRuntimeConfig("Probe.Plugin", "Microsoft.AspNetCore.App")).FirstOrDefault();
        Assert.True(aspnet is not null, "the ASP.NET Core shared framework of this runtime version is installed (the SDK brings it)");
        File.WriteAllBytes(Path.Combine(_folder, "Probe.Plugin.dll"), ProbePlugin(
            """
            public static string Where() =>
                typeof(Microsoft.AspNetCore.Http.PathString).Assembly.GetName().Name + "|" +
                System.Runtime.Loader.AssemblyLoadContext.GetLoadContext(typeof(Microsoft.AspNetCore.Http.PathString).Assembly)!.Name;
            """,
            MetadataReference.CreateFromFile(Path.Combine(aspnet!, "Microsoft.AspNetCore.Http.Abstractions.dll"))));

        PluginAssemblyLoader.Result result = PluginAssemblyLoader.Load(_folder);
        try
        {
            // Framework code is shared, in the host's context, never a private copy in the collectible plugin context.
            Assert.Equal("Microsoft.AspNetCore.Http.Abstractions|Default", Call(result.Plugin, "Where"));
        }
        finally
        {
            result.Loader.Dispose();
        }
    }

    [Fact]
    public void Load_PluginNeedsNewerSharedAbstractions_RefusedNamingBothVersions()
    {
        byte[] primitives = Emit("Microsoft.Extensions.Primitives", """
            [assembly: System.Reflection.AssemblyVersion("99.0.0.0")]
            namespace Microsoft.Extensions.Primitives { public static class Future { public static int Value => 1; } }
            """, Framework());
        File.WriteAllBytes(Path.Combine(_folder, "Probe.Plugin.dll"), ProbePlugin(
            "public static int Use() => Microsoft.Extensions.Primitives.Future.Value;",
            MetadataReference.CreateFromImage(primitives)));

        PluginLoadException error = Assert.Throws<PluginLoadException>(() => PluginAssemblyLoader.Load(_folder));

        Assert.Contains("built against Microsoft.Extensions.Primitives 99.0.0.0", error.Message);
        Assert.Contains($"this gateway has {typeof(Microsoft.Extensions.Primitives.StringValues).Assembly.GetName().Version}", error.Message);
    }

    [Fact]
    public void Load_FolderCarriesGatewaySdk_RefusedWithRemedy()
    {
        File.WriteAllBytes(Path.Combine(_folder, "Probe.Plugin.dll"), ProbePlugin(string.Empty));
        File.Copy(typeof(IGatewayPlugin).Assembly.Location, Path.Combine(_folder, "Gateway.Sdk.dll"));

        PluginLoadException error = Assert.Throws<PluginLoadException>(() => PluginAssemblyLoader.Load(_folder));

        Assert.Contains("Gateway.Sdk.dll found in", error.Message);
        Assert.Contains("Private=false", error.Message);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference LoadAndDispose(string folder)
    {
        PluginAssemblyLoader.Result result = PluginAssemblyLoader.Load(folder);
        var alive = new WeakReference(result.Loader.LoadContext);
        Assert.Equal("probe", result.Plugin.Id);
        result.Loader.Dispose();
        return alive;
    }

    private static string? Call(IGatewayPlugin plugin, string method) =>
        plugin.GetType().GetMethod(method, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, null)?.ToString();

    private string WriteRuntimeConfig(string assembly, string framework)
    {
        string path = Path.Combine(_folder, assembly + ".runtimeconfig.json");
        File.WriteAllText(path, $$$"""
            {"runtimeOptions":{"tfm":"net10.0","frameworks":[
              {"name":"Microsoft.NETCore.App","version":"10.0.0"},{"name":"{{{framework}}}","version":"10.0.0"}]}}
            """);
        return path;
    }

    private static MetadataReference[] Framework()
    {
        string directory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        return
        [
            MetadataReference.CreateFromFile(typeof(object).Assembly.Location),
            MetadataReference.CreateFromFile(Path.Combine(directory, "System.Runtime.dll")),
            MetadataReference.CreateFromFile(Path.Combine(directory, "System.Threading.Tasks.dll")),
        ];
    }

    /// <summary>A plugin "probe" against the real SDK, with <paramref name="members"/> added to its class.</summary>
    private static byte[] ProbePlugin(string members, params MetadataReference[] extra) => Emit("Probe.Plugin", $$"""
        namespace Probe
        {
            public sealed class ProbePlugin : Gateway.Sdk.Plugins.IGatewayPlugin
            {
                public string Id => "probe";
                public System.Threading.Tasks.Task StartAsync(Gateway.Sdk.Plugins.IPluginContext context, System.Threading.CancellationToken cancellationToken) => System.Threading.Tasks.Task.CompletedTask;
                public System.Threading.Tasks.Task StopAsync(System.Threading.CancellationToken cancellationToken) => System.Threading.Tasks.Task.CompletedTask;
                {{members}}
            }
        }
        """,
        [
            .. Framework(),
            MetadataReference.CreateFromFile(typeof(IGatewayPlugin).Assembly.Location),
            MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Configuration.IConfiguration).Assembly.Location),
            MetadataReference.CreateFromFile(typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location),
            .. extra,
        ]);

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
