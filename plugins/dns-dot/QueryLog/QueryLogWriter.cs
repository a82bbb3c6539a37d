using System.Buffers;
using System.Diagnostics;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Filtering;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// <c>queryLog:</c>: one JSON line per answered query (<see cref="QueryLogJson"/>), appended on the writer
/// thread; rotated by size like logrotate's <c>size</c> + <c>rotate N</c> (query.log → query.log.1 → … →
/// query.log.N, the oldest deleted). A file that cannot be written is reported once per minute and its lines
/// dropped; queries never wait for it.
/// </summary>
internal sealed class QueryLogWriter : IQueryEventSink, IDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMinutes(1);

    private readonly string _path;
    private readonly long _maxBytes;
    private readonly int _keep;
    private readonly bool _anonymize;
    private readonly ILogger _logger;
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);
    private FileStream? _file;
    private long _failedAt = long.MinValue;

    public QueryLogWriter(QueryLogOptions options, string configDirectory, ILogger logger)
    {
        _path = System.IO.Path.GetFullPath(options.Path!, configDirectory);
        _maxBytes = (long)options.MaxSizeMB * 1024 * 1024;
        _keep = options.Keep;
        _anonymize = options.Anonymize;
        _logger = logger;
    }

    /// <summary>The options this writer was made for (a reload with equal ones keeps it).</summary>
    public string Path => _path;

    /// <inheritdoc/>
    public void OnEvent(QueryEvent queryEvent)
    {
        if (queryEvent.IsUpstream)
        {
            return;
        }

        QueryLogJson.Write(_buffer, queryEvent, _anonymize);
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        if (_buffer.WrittenCount > 60 * 1024)
        {
            OnBatchEnd();
        }
    }

    /// <inheritdoc/>
    public void OnBatchEnd()
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        try
        {
            FileStream? file = Open();
            if (file is not null)
            {
                file.Write(_buffer.WrittenSpan);
                file.Flush();
                if (file.Length >= _maxBytes)
                {
                    Rotate();
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Fail(e.Message);
        }
        finally
        {
            _buffer.ResetWrittenCount();
        }
    }

    public void Dispose()
    {
        OnBatchEnd();
        _file?.Dispose();
        _file = null;
    }

    private FileStream? Open()
    {
        if (_file is not null)
        {
            return _file;
        }

        if (_failedAt != long.MinValue && Stopwatch.GetElapsedTime(_failedAt) < RetryInterval)
        {
            return null;
        }

        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(_path)!);
            _file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            _failedAt = long.MinValue;
            return _file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Fail(e.Message);
            return null;
        }
    }

    private void Rotate()
    {
        _file?.Dispose();
        _file = null;
        if (_keep == 0)
        {
            File.Delete(_path);
            return;
        }

        File.Delete($"{_path}.{_keep}");
        for (int i = _keep - 1; i >= 1; i--)
        {
            if (File.Exists($"{_path}.{i}"))
            {
                File.Move($"{_path}.{i}", $"{_path}.{i + 1}");
            }
        }

        File.Move(_path, $"{_path}.1");
    }

    private void Fail(string reason)
    {
        _file?.Dispose();
        _file = null;
        if (_failedAt == long.MinValue || Stopwatch.GetElapsedTime(_failedAt) >= RetryInterval)
        {
            FilteringLog.QueryLogFailed(_logger, _path, reason);
        }

        _failedAt = Stopwatch.GetTimestamp();
    }
}
