using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Logging;

/// <summary>
/// Writes access log lines on a background task: the request path only queues an entry (a bounded queue; when the
/// disk cannot keep up, entries are dropped and counted, never waited for). The file is rotated by size
/// (path → path.1 → ... → path.keep).
/// </summary>
internal sealed class AccessLog : IAsyncDisposable
{
    // Entries waiting for the writer; beyond this the request path drops rather than waits.
    private const int QueueLength = 16_384;

    private static readonly string[] s_months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    private readonly AccessLogOptions _options;
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly Channel<AccessLogEntry> _queue;
    private readonly Task _writer;
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private readonly StringBuilder _text = new(512);
    private FileStream? _file;
    private long _dropped;

    /// <param name="path">The log file's full path.</param>
    public AccessLog(AccessLogOptions options, string path, ILogger logger)
    {
        _options = options;
        _path = path;
        _logger = logger;
        _queue = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(QueueLength)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        });
        Open();
        _writer = Task.Run(WriteLoopAsync);
    }

    /// <summary>Entries dropped because the writer fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues one line; never waits.</summary>
    public void Write(in AccessLogEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private async Task WriteLoopAsync()
    {
        ChannelReader<AccessLogEntry> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            try
            {
                while (reader.TryRead(out AccessLogEntry entry))
                {
                    _line.ResetWrittenCount();
                    Format(entry);
                    if (_file is null)
                    {
                        Open();
                    }

                    if (_file is not null)
                    {
                        _file.Write(_line.WrittenSpan);
                        if (_file.Length >= _options.MaxSizeBytes)
                        {
                            Rotate();
                        }
                    }
                }

                _file?.Flush();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                HttpProxyLog.AccessLogError(_logger, _path, e.Message);
                _file?.Dispose();
                _file = null;
            }
        }
    }

    private void Format(in AccessLogEntry entry)
    {
        switch (_options.Format)
        {
            case AccessLogFormat.Json:
                FormatJson(entry);
                break;
            case AccessLogFormat.Combined:
                FormatCombined(entry);
                break;
            default:
                FormatSquid(entry);
                break;
        }
    }

    /// <summary>squid's native format (logformat squid): <c>%ts.%03tu %6tr %>a %Ss/%03>Hs %&lt;st %rm %ru %[un %Sh/%&lt;a %mt</c>.</summary>
    private void FormatSquid(in AccessLogEntry e)
    {
        StringBuilder t = _text.Clear();
        long ms = e.Time.ToUnixTimeMilliseconds();
        t.Append(CultureInfo.InvariantCulture, $"{ms / 1000}.{ms % 1000:000} {(long)e.Elapsed.TotalMilliseconds,6} {e.Client} {e.Result}/{e.Status:000} {e.Bytes} ");
        t.Append(e.Method).Append(' ').Append(Token(e.Url)).Append(' ').Append(Token(e.User)).Append(' ');
        // squid's hierarchy codes: FIRSTUP_PARENT/parent (the first parent in the list that is up), HIER_DIRECT/origin.
        t.Append(e.Parent is not null ? "FIRSTUP_PARENT/" + Token(e.Parent) : e.Peer is null ? "HIER_NONE/-" : "HIER_DIRECT/" + Token(e.Peer)).Append(" -\n");
        Utf8(t);
    }

    /// <summary>Combined Log Format: <c>%h %l %u [%t] "%r" %&gt;s %b "%{Referer}i" "%{User-agent}i"</c> (the last two "-").</summary>
    private void FormatCombined(in AccessLogEntry e)
    {
        StringBuilder t = _text.Clear();
        DateTime time = e.Time.UtcDateTime;
        t.Append(e.Client).Append(" - ").Append(Token(e.User)).Append(" [");
        t.Append(CultureInfo.InvariantCulture, $"{time.Day:00}/{s_months[time.Month - 1]}/{time.Year:0000}:{time.Hour:00}:{time.Minute:00}:{time.Second:00} +0000] \"");
        t.Append(e.Method).Append(' ').Append(Token(e.Url).Replace("\"", "%22", StringComparison.Ordinal)).Append(' ');
        t.Append(e.Protocol == "http" ? "HTTP/1.1" : e.Protocol.ToUpperInvariant()).Append("\" ");
        t.Append(CultureInfo.InvariantCulture, $"{e.Status} {(e.Bytes == 0 ? "-" : e.Bytes.ToString(CultureInfo.InvariantCulture))} \"-\" \"-\"\n");
        Utf8(t);
    }

    private void FormatJson(in AccessLogEntry e)
    {
        using (var json = new Utf8JsonWriter(_line))
        {
            json.WriteStartObject();
            json.WriteString("time", e.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("elapsedMs", Math.Round(e.Elapsed.TotalMilliseconds, 3));
            json.WriteString("client", e.Client);
            if (e.User is not null)
            {
                json.WriteString("user", e.User);
            }

            json.WriteString("protocol", e.Protocol);
            json.WriteString("method", e.Method);
            json.WriteString("url", e.Url);
            json.WriteString("result", e.Result);
            json.WriteNumber("status", e.Status);
            if (e.SocksReply >= 0)
            {
                json.WriteNumber("socksReply", e.SocksReply);
            }

            json.WriteNumber("bytes", e.Bytes);
            if (e.Peer is not null)
            {
                json.WriteString("peer", e.Peer);
            }

            if (e.Parent is not null)
            {
                json.WriteString("parent", e.Parent);
            }

            json.WriteEndObject();
        }

        _line.Write("\n"u8);
    }

    private void Utf8(StringBuilder text)
    {
        foreach (ReadOnlyMemory<char> chunk in text.GetChunks())
        {
            Span<byte> into = _line.GetSpan(Encoding.UTF8.GetMaxByteCount(chunk.Length));
            _line.Advance(Encoding.UTF8.GetBytes(chunk.Span, into));
        }
    }

    /// <summary>A field without spaces or control characters (they would break the columns): "-" for none, %XX otherwise.</summary>
    private static string Token(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "-";
        }

        if (value.AsSpan().IndexOfAnyInRange('\0', ' ') < 0 && !value.Contains('\u007f', StringComparison.Ordinal))
        {
            return value;
        }

        var escaped = new StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            escaped.Append(c <= ' ' || c == '\u007f' ? $"%{(int)c:X2}" : c.ToString());
        }

        return escaped.ToString();
    }

    private void Open()
    {
        try
        {
            var open = new FileStreamOptions
            {
                Mode = FileMode.Append,
                Access = FileAccess.Write,
                Share = FileShare.Read,
                BufferSize = 64 * 1024,
            };
            if (!OperatingSystem.IsWindows())
            {
                // Client addresses, user names and URLs: private to the gateway's user.
                open.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            _file = new FileStream(_path, open);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            HttpProxyLog.AccessLogError(_logger, _path, e.Message);
            _file = null;
        }
    }

    private void Rotate()
    {
        _file?.Dispose();
        _file = null;
        if (_options.Keep == 0)
        {
            File.Delete(_path);
        }
        else
        {
            for (int i = _options.Keep - 1; i >= 1; i--)
            {
                if (File.Exists($"{_path}.{i}"))
                {
                    File.Move($"{_path}.{i}", $"{_path}.{i + 1}", overwrite: true);
                }
            }

            File.Move(_path, _path + ".1", overwrite: true);
        }

        Open();
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        _file?.Dispose();
    }
}
