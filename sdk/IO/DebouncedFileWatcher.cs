namespace Gateway.Sdk.IO;

/// <summary>
/// Watches folders and calls back once, after a quiet period, for a burst of changes: an editor's save (write a temp
/// file, rename it over the original), a copied plugin folder or a rewritten certificate pair are each many file-system
/// events, and the caller wants to re-read once, after the last of them.
/// </summary>
/// <remarks>
/// Folders are watched rather than files because editors and deploy tools replace a file by renaming a new one over
/// it, which a watch on the file itself misses. The callback runs on a thread-pool thread and may run again while a
/// previous call is still running if changes keep coming: callers that re-read state take their own lock. When the
/// watcher's event buffer overflows, the error is reported and the callback runs anyway, since a change may have been
/// lost. After <see cref="Dispose"/> no callback starts.
/// <para>
/// A watched name that is a symbolic link also follows the entry of the same folder that its target goes through:
/// Kubernetes mounts a ConfigMap as <c>gateway.yaml → ..data/gateway.yaml</c> with <c>..data → ..2026_12_07_...</c>,
/// and publishes an edit by writing a new timestamped folder and renaming a new <c>..data</c> link over the old one
/// (kubelet's atomic writer). <c>gateway.yaml</c> itself never changes there, so the swap of <c>..data</c> counts as a
/// change of it. Links whose target leaves the folder are not followed.
/// </para>
/// </remarks>
public sealed class DebouncedFileWatcher : IDisposable
{
    private readonly TimeSpan _quietPeriod;
    private readonly Action<Exception>? _onError;
    private readonly Timer _timer;
    private readonly List<FileSystemWatcher> _watchers = [];
    private bool _disposed;

    /// <summary>Creates a watcher that calls <paramref name="changed"/> once <paramref name="quietPeriod"/> has passed without further change.</summary>
    /// <param name="quietPeriod">The time without events before <paramref name="changed"/> runs (300–500 ms suits editors and copies).</param>
    /// <param name="changed">Runs after a burst of changes.</param>
    /// <param name="onError">Told when a watch fails (event buffer overflow, folder gone); <paramref name="changed"/> runs after it.</param>
    public DebouncedFileWatcher(TimeSpan quietPeriod, Action changed, Action<Exception>? onError = null)
    {
        ArgumentNullException.ThrowIfNull(changed);
        _quietPeriod = quietPeriod;
        _onError = onError;
        _timer = new Timer(_ => changed(), null, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>
    /// Starts watching <paramref name="directory"/> (which must exist). <paramref name="nameFilter"/>, when given, picks the
    /// events that count by the changed entry's path relative to <paramref name="directory"/> (for a rename, either the
    /// old or the new name may match). Disposing the result stops this watch only.
    /// </summary>
    /// <exception cref="ArgumentException">The directory does not exist.</exception>
    /// <exception cref="IOException">The system's limit of watches is reached.</exception>
    public IDisposable Watch(string directory, bool includeSubdirectories = false, Func<string, bool>? nameFilter = null)
    {
        var watcher = new FileSystemWatcher(directory)
        {
            IncludeSubdirectories = includeSubdirectories,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        FileSystemEventHandler onEvent = (_, e) =>
        {
            if (nameFilter is null || (e.Name is { } name && Counts(directory, name, nameFilter)) || (e is RenamedEventArgs { OldName: { } old } && Counts(directory, old, nameFilter)))
            {
                Trigger();
            }
        };
        watcher.Changed += onEvent;
        watcher.Created += onEvent;
        watcher.Deleted += onEvent;
        watcher.Renamed += (sender, e) => onEvent(sender, e);
        watcher.Error += (_, e) =>
        {
            _onError?.Invoke(e.GetException());
            Trigger();
        };
        try
        {
            watcher.EnableRaisingEvents = true;
        }
        catch
        {
            watcher.Dispose();
            throw;
        }

        lock (_watchers)
        {
            if (_disposed)
            {
                watcher.Dispose();
                throw new ObjectDisposedException(nameof(DebouncedFileWatcher));
            }

            _watchers.Add(watcher);
        }

        return new Subscription(this, watcher);
    }

    /// <summary>Schedules the callback as if a change had been seen (restarts the quiet period); a no-op after <see cref="Dispose"/>.</summary>
    public void Trigger()
    {
        try
        {
            _timer.Change(_quietPeriod, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed while an event was in flight: nothing to report.
        }
    }

    /// <summary>Stops every watch; no callback starts after this returns (one already running completes).</summary>
    public void Dispose()
    {
        FileSystemWatcher[] watchers;
        lock (_watchers)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            watchers = [.. _watchers];
            _watchers.Clear();
        }

        _timer.Dispose();
        foreach (FileSystemWatcher watcher in watchers)
        {
            watcher.Dispose();
        }
    }

    /// <summary>
    /// True when <paramref name="name"/> is picked by <paramref name="nameFilter"/>, or is the first entry below
    /// <paramref name="directory"/> that the target of a picked symbolic link goes through (<c>..data</c> for
    /// <c>gateway.yaml → ..data/gateway.yaml</c>). Runs only for events the filter refuses, which are rare in a folder
    /// watched with a filter.
    /// </summary>
    private static bool Counts(string directory, string name, Func<string, bool> nameFilter)
    {
        if (nameFilter(name))
        {
            return true;
        }

        try
        {
            foreach (FileSystemInfo entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
            {
                if (entry.LinkTarget is not { } target || !nameFilter(entry.Name))
                {
                    continue;
                }

                string relative = Path.GetRelativePath(directory, Path.GetFullPath(target, directory));
                int separator = relative.IndexOf(Path.DirectorySeparatorChar, StringComparison.Ordinal);
                string first = separator < 0 ? relative : relative[..separator];
                if (first != ".." && string.Equals(first, name, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The folder went away or cannot be listed: the watch's Error event reports that.
        }

        return false;
    }

    private void Remove(FileSystemWatcher watcher)
    {
        lock (_watchers)
        {
            _watchers.Remove(watcher);
        }

        watcher.Dispose();
    }

    private sealed class Subscription(DebouncedFileWatcher owner, FileSystemWatcher watcher) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Remove(watcher);
            }
        }
    }
}
