using Gateway.Host.Plugins;

namespace Gateway.Tests.Host.Plugins;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PluginTrustTests : IDisposable
{
    private const UnixFileMode Folder755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private readonly string _root = Directory.CreateTempSubdirectory("plugintrust-").FullName;
    private readonly string _plugin;

    public PluginTrustTests()
    {
        _plugin = Path.Combine(_root, "echo");
        Directory.CreateDirectory(Path.Combine(_plugin, "runtimes", "linux"));
        File.WriteAllText(Path.Combine(_plugin, "Echo.dll"), "code");
        File.WriteAllText(Path.Combine(_plugin, "runtimes", "linux", "native.so"), "code");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Check_OnlyOwnerCanWrite_Trusted() => Assert.Null(PluginTrust.Check(_plugin));

    [Fact]
    public void Check_WorldWritableAssembly_RefusedNamingTheFile()
    {
        string dll = Path.Combine(_plugin, "Echo.dll");
        File.SetUnixFileMode(dll, File.GetUnixFileMode(dll) | UnixFileMode.OtherWrite);

        string? refusal = PluginTrust.Check(_plugin);

        Assert.NotNull(refusal);
        Assert.StartsWith(dll + " is writable by group or others (mode 0646)", refusal);
        Assert.Contains("the plugin is not loaded", refusal);
    }

    [Fact]
    public void Check_GroupWritableSubfolder_RefusedNamingIt()
    {
        string sub = Path.Combine(_plugin, "runtimes");
        File.SetUnixFileMode(sub, Folder755 | UnixFileMode.GroupWrite);

        string? refusal = PluginTrust.Check(_plugin);

        Assert.NotNull(refusal);
        Assert.StartsWith(sub + " is writable by group or others", refusal);
    }

    [Fact]
    public void Check_PluginsRootWritableByOthers_RefusedNamingTheRoot()
    {
        // Whoever may write the folder holding the plugin may swap the plugin folder itself.
        File.SetUnixFileMode(_root, Folder755 | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite);

        string? refusal = PluginTrust.Check(_plugin);

        Assert.NotNull(refusal);
        Assert.StartsWith($"{_plugin} is in the folder {_root}, which is writable by group or others (mode 0777)", refusal);
    }
}
