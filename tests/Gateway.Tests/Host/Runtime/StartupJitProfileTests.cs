using Gateway.Host.Runtime;

namespace Gateway.Tests.Host.Runtime;

public sealed class StartupJitProfileTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gateway-jitprofile-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public void StartThenStop_WritesTheProfileInTheStateFoldersHostSubfolder()
    {
        string? path = StartupJitProfile.Start("test-run", _root);
        // Something compiled between start and stop, as a start-up does.
        _ = System.Text.Json.JsonSerializer.Serialize(new { Started = DateTimeOffset.UtcNow });
        StartupJitProfile.Stop();

        Assert.Equal(Path.Combine(_root, "host", "test-run.jitprofile"), path);
        Assert.True(File.Exists(path), "the profile is written when the recording stops");
        Assert.True(new FileInfo(path!).Length > 0);
    }

    [Fact]
    public void Start_StateFolderCannotBeMade_StartsWithoutProfile()
    {
        // A file where the folder should be: Directory.CreateDirectory fails with IOException.
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, "host"), "not a folder");

        Assert.Null(StartupJitProfile.Start("test-run", _root));
    }
}
