using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.Plugins.DnsDot.Filtering;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// One <c>lists:</c> entry at run time: the matcher queries use (swapped whole by a refresh, like a rule script
/// reload: a query sees the old or the new list, never half of one), and the background work that keeps it
/// current. A URL list loads its copy on disk first (so a restart without network still blocks), then downloads
/// when the copy is older than <c>refresh</c>, and again every <c>refresh</c>; a failed download keeps the last
/// good copy, records why, and is retried sooner. A file list is read at start and whenever the file changes.
/// Parsing always runs off the query path: queries are answered with the previous matcher meanwhile.
/// </summary>
internal sealed class SubscribedList : IDisposable
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(300);

    private readonly string _stateDirectory;
    private readonly ListDownloader _downloader;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly Lock _stateLock = new();
    private readonly Lock _loadLock = new();
    private ListMatcher _matcher = ListMatcher.Empty;
    private Gateway.Sdk.IO.DebouncedFileWatcher? _watcher;
    private Task _loop = Task.CompletedTask;
    private long _hits;
    private long _generation;
    private string? _lastError;
    private DateTimeOffset? _updated;
    private int _skipped;

    public SubscribedList(ListDefinition definition, string stateDirectory, ListDownloader downloader, ILogger logger)
    {
        Definition = definition;
        _stateDirectory = stateDirectory;
        _downloader = downloader;
        _logger = logger;
        Reason = "list:" + definition.Name;
        HitTag = new KeyValuePair<string, object?>("list", definition.Name);
    }

    /// <summary>The validated configuration.</summary>
    public ListDefinition Definition { get; }

    /// <summary>The list's name.</summary>
    public string Name => Definition.Name;

    /// <summary>True for an allow list.</summary>
    public bool IsAllow => Definition.IsAllow;

    /// <summary>"list:&lt;name&gt;": the reason the query log gives when this list decided.</summary>
    public string Reason { get; }

    /// <summary>The metric tag of this list, created once.</summary>
    public KeyValuePair<string, object?> HitTag { get; }

    /// <summary>Entries of the copy in use.</summary>
    public int Entries => Volatile.Read(ref _matcher).Count;

    /// <summary>Lines of the copy in use that were not understood and skipped.</summary>
    public int Skipped => Volatile.Read(ref _skipped);

    /// <summary>Queries this list decided (blocked, or allowed past a block).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>When the copy in use was downloaded (or the file last changed); null before the first load.</summary>
    public DateTimeOffset? Updated
    {
        get
        {
            lock (_stateLock)
            {
                return _updated;
            }
        }
    }

    /// <summary>Why the last refresh failed, or null when it worked.</summary>
    public string? LastError
    {
        get
        {
            lock (_stateLock)
            {
                return _lastError;
            }
        }
    }

    /// <summary>Incremented at each swap of the matcher (tests wait for a refresh).</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Completes when the first load attempt (disk copy or file, and for a URL list without a copy, the first download) has finished.</summary>
    public Task FirstLoad => _firstLoad.Task;

    /// <summary>Where a URL list's copy is kept.</summary>
    internal string CopyPath => Path.Combine(_stateDirectory, "lists", Definition.Name + ".list");

    private string InfoPath => Path.Combine(_stateDirectory, "lists", Definition.Name + ".json");

    /// <summary>What the list says about a name (presentation bytes): allow beats block.</summary>
    public ListMatch Match(ReadOnlySpan<byte> name) => Volatile.Read(ref _matcher).Match(name);

    /// <summary>Counts a query this list decided.</summary>
    public void CountHit() => Interlocked.Increment(ref _hits);

    /// <summary>Starts loading and refreshing in the background.</summary>
    public void Start()
    {
        _loop = Definition.Url is not null ? Task.Run(RunUrlAsync) : Task.Run(StartFileAsync);
    }

    /// <summary>Downloads now (tests, and an operator's refresh) instead of waiting for the interval.</summary>
    public void RefreshNow()
    {
        if (Definition.File is not null)
        {
            _watcher?.Trigger();
            return;
        }

        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A wake-up is already pending.
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _watcher?.Dispose();
        _firstLoad.TrySetResult();
    }

    private async Task RunUrlAsync()
    {
        CancellationToken stopping = _stopping.Token;
        DateTimeOffset due = DateTimeOffset.UtcNow;
        CopyInfo? copy = ReadCopyInfo();
        if (copy is not null && copy.Url == Definition.Url!.ToString() && File.Exists(CopyPath))
        {
            try
            {
                Load(CopyPath, copy.Fetched, $"{CopyPath} (downloaded {copy.Fetched:u})");
                due = copy.Checked + Definition.Refresh;
                _firstLoad.TrySetResult();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                FilteringLog.ListFileFailed(_logger, Name, CopyPath, e.Message, "downloading it again");
                copy = null;
            }
        }

        int failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            TimeSpan wait = due - DateTimeOffset.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                bool woken;
                try
                {
                    woken = await _wake.WaitAsync(wait < TimeSpan.FromDays(1) ? wait : TimeSpan.FromDays(1), stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                if (!woken && DateTimeOffset.UtcNow < due)
                {
                    continue;
                }
            }

            try
            {
                copy = await RefreshAsync(copy, stopping).ConfigureAwait(false);
                failures = 0;
                due = DateTimeOffset.UtcNow + Definition.Refresh;
                lock (_stateLock)
                {
                    _lastError = null;
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is ListDownloadException or IOException or UnauthorizedAccessException)
            {
                failures++;
                TimeSpan retry = TimeSpan.FromTicks(Math.Min(Definition.Refresh.Ticks, FirstRetry.Ticks << Math.Min(failures - 1, 20)));
                due = DateTimeOffset.UtcNow + retry;
                lock (_stateLock)
                {
                    _lastError = e.Message;
                }

                FilteringLog.ListRefreshFailed(_logger, Name, Definition.Url!.ToString(), e.Message, Updated?.ToString("u", CultureInfo.InvariantCulture) ?? "never (no copy)", Entries, (long)retry.TotalSeconds);
                if (Entries == 0 && failures == 1)
                {
                    FilteringLog.ListEmpty(_logger, Name);
                }
            }

            _firstLoad.TrySetResult();
        }
    }

    private async Task<CopyInfo?> RefreshAsync(CopyInfo? copy, CancellationToken cancellationToken)
    {
        string directory = Path.GetDirectoryName(CopyPath)!;
        bool keep = true;
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            FilteringLog.ListStateUnwritable(_logger, Name, directory, e.Message);
            keep = false;
        }

        bool sameSource = copy is not null && copy.Url == Definition.Url!.ToString() && File.Exists(CopyPath);
        string temporary = keep ? CopyPath + ".download" : Path.Combine(Path.GetTempPath(), $"gateway-list-{Environment.ProcessId}-{Name}.download");
        try
        {
            ListDownloader.DownloadResult result = await _downloader.DownloadAsync(
                Definition.Url!, sameSource ? copy!.ETag : null, sameSource ? copy!.LastModified : null, Definition.MaxBytes, Definition.Timeout, temporary, cancellationToken).ConfigureAwait(false);
            DateTimeOffset now = DateTimeOffset.UtcNow;
            if (result.NotModified)
            {
                FilteringLog.ListNotModified(_logger, Name, Definition.Url!.ToString());
                copy = copy! with { Checked = now };
                if (keep)
                {
                    WriteCopyInfo(copy);
                }

                return copy;
            }

            Load(temporary, now, $"{Definition.Url} ({result.Bytes} bytes)");

            var info = new CopyInfo(Definition.Url!.ToString(), result.ETag, result.LastModified, now, now);
            if (keep)
            {
                File.Move(temporary, CopyPath, overwrite: true);
                WriteCopyInfo(info);
            }

            return info;
        }
        finally
        {
            TryDelete(temporary);
        }
    }

    private Task StartFileAsync()
    {
        string file = Definition.File!;
        LoadFile(file);
        _firstLoad.TrySetResult();
        try
        {
            // The folder is watched (editors save by renaming over the file); only this file's events count.
            var watcher = new Gateway.Sdk.IO.DebouncedFileWatcher(Debounce, () => LoadFile(file),
                e => FilteringLog.ListFileFailed(_logger, Name, file, e.Message, "re-reading it"));
            string name = Path.GetFileName(file);
            watcher.Watch(Path.GetDirectoryName(file)!, nameFilter: changed => string.Equals(changed, name, StringComparison.Ordinal));
            _watcher = watcher;
            if (_stopping.IsCancellationRequested)
            {
                watcher.Dispose();
            }
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            FilteringLog.ListFileFailed(_logger, Name, file, e.Message, "edits are not picked up until a restart or reload");
        }

        return Task.CompletedTask;
    }

    private void LoadFile(string file)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        // The watcher may call again while a load runs: one load at a time, the last one wins.
        lock (_loadLock)
        {
            LoadFileLocked(file);
        }
    }

    private void LoadFileLocked(string file)
    {
        try
        {
            Load(file, File.GetLastWriteTimeUtc(file), file);
            lock (_stateLock)
            {
                _lastError = null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            lock (_stateLock)
            {
                _lastError = e.Message;
            }

            FilteringLog.ListFileFailed(_logger, Name, file, e.Message, Entries > 0 ? "keeping the previous copy" : "the list blocks nothing until the file can be read");
        }
    }

    // Parses a file into a new matcher and swaps it in (one reference write).
    private void Load(string path, DateTimeOffset updated, string source)
    {
        long started = Stopwatch.GetTimestamp();
        var parser = new ListParser(Definition.Format, Definition.IsAllow);
        using (var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, new FileStreamOptions { BufferSize = 64 * 1024, Options = FileOptions.SequentialScan }))
        {
            parser.Read(reader);
        }

        ListMatcher matcher = parser.Build();
        Volatile.Write(ref _matcher, matcher);
        Volatile.Write(ref _skipped, parser.Skipped);
        lock (_stateLock)
        {
            _updated = updated;
        }

        Interlocked.Increment(ref _generation);
        string examples = parser.SkippedExamples.Count == 0 ? "" : "; e.g. " + string.Join("; ", parser.SkippedExamples);
        FilteringLog.ListLoaded(_logger, Name, matcher.Count, source, parser.Skipped, examples, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private CopyInfo? ReadCopyInfo()
    {
        try
        {
            return File.Exists(InfoPath) ? JsonSerializer.Deserialize<CopyInfo>(File.ReadAllBytes(InfoPath)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    private void WriteCopyInfo(CopyInfo info)
    {
        string temporary = InfoPath + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(info));
        File.Move(temporary, InfoPath, overwrite: true);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover partial download is overwritten next time.
        }
    }

    /// <summary>What is known about the copy on disk (next to it, as &lt;name&gt;.json).</summary>
    internal sealed record CopyInfo(string Url, string? ETag, DateTimeOffset? LastModified, DateTimeOffset Fetched, DateTimeOffset Checked);
}
