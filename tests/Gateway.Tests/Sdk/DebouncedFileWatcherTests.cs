using Gateway.Sdk.IO;

namespace Gateway.Tests.Sdk;

/// <summary>
/// The one debounced watcher the host and plugins share: a burst of writes is one callback after the quiet period, an
/// editor's save (write a temp file, rename it over the original) is seen, other names are ignored when a filter is
/// given, and nothing is reported after a watch or the watcher is disposed.
/// </summary>
public sealed class DebouncedFileWatcherTests : IDisposable
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);
    private readonly string _directory = Directory.CreateTempSubdirectory("gw-watch-").FullName;
    private int _calls;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Watch_BurstOfWrites_OneCallbackAfterQuietPeriod()
    {
        // Writes 20 ms apart under a quiet period 50 times longer: on a loaded 2-core CI runner a 20 ms delay
        // stretched past the shared 200 ms period (two callbacks, a fresh clone's run on 2026-12-08).
        TimeSpan quiet = TimeSpan.FromSeconds(1);
        using var watcher = new DebouncedFileWatcher(quiet, () => Interlocked.Increment(ref _calls));
        watcher.Watch(_directory);

        for (int i = 0; i < 10; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(_directory, "a.txt"), i.ToString());
            await Task.Delay(20);
        }

        await WaitForCallsAsync(1);
        await Task.Delay(quiet * 2);
        Assert.Equal(1, Volatile.Read(ref _calls));
    }

    [Fact]
    public async Task Watch_EditorRenamesTempFileOverWatchedName_CallsBack()
    {
        string target = Path.Combine(_directory, "gateway.yaml");
        await File.WriteAllTextAsync(target, "a: 1");
        using var watcher = new DebouncedFileWatcher(Quiet, () => Interlocked.Increment(ref _calls));
        watcher.Watch(_directory, nameFilter: name => name == "gateway.yaml");

        string temp = Path.Combine(_directory, ".gateway.yaml.swp");
        await File.WriteAllTextAsync(temp, "a: 2");
        File.Move(temp, target, overwrite: true);

        await WaitForCallsAsync(1);
    }

    [Fact]
    public async Task Watch_OtherNameWithFilter_NoCallback()
    {
        using var watcher = new DebouncedFileWatcher(Quiet, () => Interlocked.Increment(ref _calls));
        watcher.Watch(_directory, nameFilter: name => name == "gateway.yaml");

        await File.WriteAllTextAsync(Path.Combine(_directory, "other.yaml"), "x");

        await Task.Delay(Quiet * 4);
        Assert.Equal(0, Volatile.Read(ref _calls));
    }

    [Fact]
    public async Task Watch_SubdirectoriesIncluded_ChangeInNestedFolderCallsBack()
    {
        string nested = Directory.CreateDirectory(Path.Combine(_directory, "plugin", "lib")).FullName;
        using var watcher = new DebouncedFileWatcher(Quiet, () => Interlocked.Increment(ref _calls));
        watcher.Watch(_directory, includeSubdirectories: true);

        await File.WriteAllTextAsync(Path.Combine(nested, "x.dll"), "x");

        await WaitForCallsAsync(1);
    }

    [Fact]
    public async Task Dispose_WatchOrWatcher_NoCallbackAfterwards()
    {
        var watcher = new DebouncedFileWatcher(Quiet, () => Interlocked.Increment(ref _calls));
        IDisposable watch = watcher.Watch(_directory);
        watch.Dispose();
        await File.WriteAllTextAsync(Path.Combine(_directory, "a.txt"), "1");
        await Task.Delay(Quiet * 4);
        Assert.Equal(0, Volatile.Read(ref _calls));

        watcher.Watch(_directory);
        await File.WriteAllTextAsync(Path.Combine(_directory, "a.txt"), "2");
        watcher.Dispose();
        watcher.Trigger();
        await Task.Delay(Quiet * 4);
        Assert.Equal(0, Volatile.Read(ref _calls));
        Assert.Throws<ObjectDisposedException>(() => watcher.Watch(_directory));
    }

    [Fact]
    public void Watch_MissingDirectory_Throws()
    {
        using var watcher = new DebouncedFileWatcher(Quiet, () => { });

        Assert.Throws<ArgumentException>(() => watcher.Watch(Path.Combine(_directory, "missing")));
    }

    [Fact]
    public async Task Watch_ConfigMapDataLinkRenamedOverLikeKubelet_CallsBackForTheLinkedName()
    {
        // kubelet's layout: gateway.yaml → ..data/gateway.yaml, ..data → ..<timestamp>; an update renames a new
        // ..data link over the old one, and gateway.yaml itself sees no event at all.
        Directory.CreateDirectory(Path.Combine(_directory, "..2026_12_07_05_00_00.1"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "..2026_12_07_05_00_00.1", "gateway.yaml"), "a: 1");
        File.CreateSymbolicLink(Path.Combine(_directory, "..data"), "..2026_12_07_05_00_00.1");
        File.CreateSymbolicLink(Path.Combine(_directory, "gateway.yaml"), Path.Combine("..data", "gateway.yaml"));
        using var watcher = new DebouncedFileWatcher(Quiet, () => Interlocked.Increment(ref _calls));
        watcher.Watch(_directory, nameFilter: name => name == "gateway.yaml");

        Directory.CreateDirectory(Path.Combine(_directory, "..2026_12_07_05_01_00.2"));
        await File.WriteAllTextAsync(Path.Combine(_directory, "..2026_12_07_05_01_00.2", "gateway.yaml"), "a: 2");
        File.CreateSymbolicLink(Path.Combine(_directory, "..data_tmp"), "..2026_12_07_05_01_00.2");
        Assert.Equal(0, Rename(Path.Combine(_directory, "..data_tmp"), Path.Combine(_directory, "..data")));

        await WaitForCallsAsync(1);
        Assert.Equal("a: 2", await File.ReadAllTextAsync(Path.Combine(_directory, "gateway.yaml")));
    }

    [Fact]
    public async Task Watch_EntryOnlyAnUnwatchedLinkGoesThrough_NoCallback()
    {
        Directory.CreateDirectory(Path.Combine(_directory, "real"));
        File.CreateSymbolicLink(Path.Combine(_directory, "other.yaml"), Path.Combine("real", "other.yaml"));
        using var watcher = new DebouncedFileWatcher(Quiet, () => Interlocked.Increment(ref _calls));
        watcher.Watch(_directory, nameFilter: name => name == "gateway.yaml");

        Directory.CreateDirectory(Path.Combine(_directory, "real2"));
        Directory.Delete(Path.Combine(_directory, "real"));

        await Task.Delay(Quiet * 4);
        Assert.Equal(0, Volatile.Read(ref _calls));
    }

    /// <summary>rename(2) of the link itself, as kubelet's os.Rename (File.Move would look through the target link).</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(string from, string to);

    private async Task WaitForCallsAsync(int expected)
    {
        long deadline = Environment.TickCount64 + 10_000;
        while (Volatile.Read(ref _calls) < expected)
        {
            Assert.True(Environment.TickCount64 < deadline, $"{Volatile.Read(ref _calls)} callbacks within 10 s, expected {expected}");
            await Task.Delay(20);
        }
    }
}
