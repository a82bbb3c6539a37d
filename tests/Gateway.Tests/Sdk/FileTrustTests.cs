using Gateway.Sdk.Security;
using Xunit;

namespace Gateway.Tests.Sdk;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FileTrustTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("filetrust-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite, true)]
    [InlineData(UnixFileMode.UserRead, true)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, false)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead, false)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, false)]
    public void CheckSecretFile_Mode_AcceptedOnlyWhenPrivate(UnixFileMode mode, bool accepted)
    {
        string key = Path.Combine(_folder, "key");
        File.WriteAllText(key, "secret");
        File.SetUnixFileMode(key, mode);

        string? problem = FileTrust.CheckSecretFile(key);

        Assert.Equal(accepted, problem is null);
        if (!accepted)
        {
            Assert.Contains("chmod 600", problem);
            Assert.Contains(Convert.ToString((int)mode, 8), problem);
        }
    }

    [Fact]
    public void CheckSecretFile_Missing_SaysSo()
    {
        Assert.Equal("does not exist", FileTrust.CheckSecretFile(Path.Combine(_folder, "none")));
    }

    [Fact]
    public void CheckCodePath_WorldWritableFile_Refused()
    {
        string rules = Path.Combine(_folder, "rules.csx");
        File.WriteAllText(rules, "Block(\"x.test\");");
        File.SetUnixFileMode(rules, (UnixFileMode)0b110_110_110);

        string? problem = FileTrust.CheckCodePath(rules);

        Assert.NotNull(problem);
        Assert.Contains("writable by group or others (mode 0666)", problem);
    }

    [Fact]
    public void CheckCodePath_GroupWritableFolder_Refused()
    {
        string plugins = Path.Combine(_folder, "plugins");
        string plugin = Path.Combine(plugins, "echo");
        Directory.CreateDirectory(plugin);
        File.SetUnixFileMode(plugins, (UnixFileMode)0b111_111_101);

        string? problem = FileTrust.CheckCodePath(plugin);

        Assert.NotNull(problem);
        Assert.Contains("is in the folder " + plugins, problem);
    }

    [Fact]
    public void CheckCodePath_StickyWorldWritableFolder_AcceptsOwnedFile()
    {
        string sticky = Path.Combine(_folder, "tmp");
        Directory.CreateDirectory(sticky);
        File.SetUnixFileMode(sticky, (UnixFileMode)0b1_111_111_111);
        string rules = Path.Combine(sticky, "rules.csx");
        File.WriteAllText(rules, "");
        File.SetUnixFileMode(rules, (UnixFileMode)0b110_100_100);

        Assert.Null(FileTrust.CheckCodePath(rules));
    }

    [Fact]
    public void CheckCodePath_FileOfAnotherUser_Refused()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return; // chown needs root; the suite runs as root (scripts/test.sh).
        }

        string rules = Path.Combine(_folder, "other.csx");
        File.WriteAllText(rules, "");
        using (var chown = System.Diagnostics.Process.Start("chown", ["65534", rules]))
        {
            chown.WaitForExit();
            Assert.Equal(0, chown.ExitCode);
        }

        string? problem = FileTrust.CheckCodePath(rules);

        Assert.NotNull(problem);
        Assert.Contains("owned by uid 65534", problem);
    }
}
