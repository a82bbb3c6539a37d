namespace Gateway.Host.Runtime;

/// <summary>
/// Calls back (debounced) when the config file changes. Watches the folder rather than the file because editors
/// save by writing a new file and renaming it over the old one.
/// </summary>
internal sealed class ConfigFileWatcher : IDisposable
{
    /// <summary>Quiet time after the last change before the file is read.</summary>
    public static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);

    private readonly FileSystemWatcher _watcher;
    private readonly Timer _timer;
    private readonly string _fileName;

    public ConfigFileWatcher(string path, Func<Task> onChanged)
    {
        _fileName = Path.GetFileName(path);
        _timer = new Timer(_ => _ = onChanged(), null, Timeout.Infinite, Timeout.Infinite);
        _watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        _watcher.Changed += OnEvent;
        _watcher.Created += OnEvent;
        _watcher.Renamed += OnEvent;
        _watcher.EnableRaisingEvents = true;
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _timer.Dispose();
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        if (string.Equals(e.Name, _fileName, StringComparison.Ordinal) ||
            (e is RenamedEventArgs renamed && string.Equals(renamed.OldName, _fileName, StringComparison.Ordinal)))
        {
            try
            {
                _timer.Change(Debounce, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Shutting down.
            }
        }
    }
}
