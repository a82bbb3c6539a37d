using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Kit;

/// <summary>
/// A folder laid out and updated the way kubelet's atomic writer updates a mounted ConfigMap: the files live in a
/// timestamped folder <c>..2026_12_07_05_00_00.123</c>, <c>..data</c> links to it, and each key is a link
/// <c>name → ..data/name</c>. An update writes a new timestamped folder, links <c>..data_tmp</c> to it, renames
/// <c>..data_tmp</c> over <c>..data</c> (rename(2), atomic) and removes the old folder; the visible links never change.
/// </summary>
public static class ConfigMapVolume
{
    /// <summary>Publishes <paramref name="files"/> (key → content) into <paramref name="folder"/>, first time or update.</summary>
    public static async Task PublishAsync(string folder, IReadOnlyDictionary<string, string> files)
    {
        Directory.CreateDirectory(folder);
        string data = Path.Combine(folder, "..data");
        string? previous = File.Exists(data) || Directory.Exists(data) ? new FileInfo(data).LinkTarget : null;
        string stamp = ".." + DateTime.UtcNow.ToString("yyyy_MM_dd_HH_mm_ss.fffffff", System.Globalization.CultureInfo.InvariantCulture);
        string payload = Directory.CreateDirectory(Path.Combine(folder, stamp)).FullName;
        foreach ((string name, string content) in files)
        {
            await File.WriteAllTextAsync(Path.Combine(payload, name), content);
        }

        string temporary = Path.Combine(folder, "..data_tmp");
        File.CreateSymbolicLink(temporary, stamp);

        // mv -T is rename(2) of the link itself, as kubelet's os.Rename (File.Move would look through ..data).
        CommandResult rename = await ProcessRunner.RunAsync("mv", ["-T", temporary, data], TimeSpan.FromSeconds(30));
        Assert.True(rename.ExitCode == 0, rename.Output);
        foreach (string name in files.Keys)
        {
            string visible = Path.Combine(folder, name);
            if (new FileInfo(visible).LinkTarget is null)
            {
                File.CreateSymbolicLink(visible, Path.Combine("..data", name));
            }
        }

        if (previous is not null)
        {
            Directory.Delete(Path.GetFullPath(previous, folder), recursive: true);
        }
    }
}
