using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Observability;

/// <summary>
/// Pushes the collector's instruments to a statsd server over UDP (<c>host.statsd.address</c>) every interval:
/// counters as their delta since the previous push (<c>|c</c>, only when non-zero), up-down counters and
/// gauges as their value (<c>|g</c>), histograms as one timer line per tag set carrying the interval's mean
/// with sample rate 1/count (<c>|ms|@0.25</c> for 4 values), so the server's count and mean are right;
/// seconds are sent as milliseconds. Names come from <see cref="StatsdNames"/>. Lines are packed into
/// datagrams of at most <see cref="MaxPacketBytes"/> bytes.
/// </summary>
internal sealed class StatsdExporter : IAsyncDisposable
{
    /// <summary>1500-byte Ethernet MTU minus IPv6 (40) and UDP (8) headers and room for tunnels (20).</summary>
    public const int MaxPacketBytes = 1432;

    /// <summary>The push interval unless one is given; statsd servers flush every 10 s by default too.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    private readonly NetEndpoint _address;
    private readonly MetricsCollector _metrics;
    private readonly ILogger _logger;
    private readonly TimeSpan _interval;
    private readonly StatsdTagFormat _tagFormat;
    private readonly string _prefix;
    private readonly Lock _exportGate = new();
    private readonly byte[] _packet = new byte[MaxPacketBytes];
    private Dictionary<string, double> _previousTotals = new(StringComparer.Ordinal);
    private Dictionary<string, (long Count, double Sum)> _previousHistograms = new(StringComparer.Ordinal);
    private Socket? _socket;
    private CancellationTokenSource? _stopping;
    private Task? _loop;
    private bool _failing;

    /// <param name="address">The statsd server.</param>
    /// <param name="metrics">The collector to export.</param>
    /// <param name="logger">Where send failures are reported.</param>
    /// <param name="interval">Push interval; defaults to 10 s.</param>
    /// <param name="tagFormat">How tags are written; defaults to DogStatsD.</param>
    /// <param name="prefix">First name segment; defaults to "gateway" ("dotproxy" gives dotproxy's exact names).</param>
    public StatsdExporter(NetEndpoint address, MetricsCollector metrics, ILogger logger, TimeSpan? interval = null,
        StatsdTagFormat tagFormat = StatsdTagFormat.DogStatsd, string prefix = "gateway")
    {
        if (interval is { } given && given <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), given, "the statsd interval must be positive");
        }

        _address = address;
        _metrics = metrics;
        _logger = logger;
        _interval = interval ?? DefaultInterval;
        _tagFormat = tagFormat;
        _prefix = prefix.Trim('.');
    }

    /// <summary>Opens the UDP socket and starts the push loop. Never throws: a failure is logged and export stays off.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_socket is not null)
        {
            return Task.CompletedTask;
        }

        IPEndPoint endpoint = _address.ToIPEndPoint();
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Connect(endpoint);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            ObservabilityLog.StatsdStartFailed(_logger, _address.ToString(), ex.Message);
            return Task.CompletedTask;
        }

        _socket = socket;
        _stopping = new CancellationTokenSource();
        _loop = RunAsync(_stopping.Token);
        ObservabilityLog.StatsdStarted(_logger, _address.ToString(), _interval.TotalSeconds);
        return Task.CompletedTask;
    }

    /// <summary>Stops the loop, pushes the last deltas and closes the socket.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_socket is null || _stopping is null)
        {
            return;
        }

        _stopping.Cancel();
        try
        {
            await _loop!.WaitAsync(cancellationToken).ConfigureAwait(false);
            ExportNow();
        }
        catch (OperationCanceledException)
        {
            // The host's stop timeout expired: skip the final push.
        }

        lock (_exportGate)
        {
            _socket.Dispose();
            _socket = null;
        }

        _stopping.Dispose();
        _stopping = null;
        ObservabilityLog.StatsdStopped(_logger, _address.ToString());
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None).ConfigureAwait(false);

    /// <summary>Takes a snapshot and sends its lines now; returns the number of datagrams sent.</summary>
    public int ExportNow()
    {
        lock (_exportGate)
        {
            if (_socket is null)
            {
                return 0;
            }

            List<string> lines = BuildLines(_metrics.Snapshot());
            return Send(lines);
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                ExportNow();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Formats the snapshot as statsd lines and remembers totals for the next deltas (series gone since are forgotten).</summary>
    private List<string> BuildLines(MetricsSnapshot snapshot)
    {
        var lines = new List<string>();
        var totals = new Dictionary<string, double>(_previousTotals.Count, StringComparer.Ordinal);
        var histograms = new Dictionary<string, (long Count, double Sum)>(_previousHistograms.Count, StringComparer.Ordinal);
        foreach (MetricFamily family in snapshot.Families)
        {
            string name = StatsdNames.For(family, _prefix);
            foreach (MetricPoint point in family.Points)
            {
                string tags = FormatTags(point.Tags);
                // Influx-style tags belong to the name; the same key identifies the series for deltas in every format.
                string key = _tagFormat == StatsdTagFormat.Influx ? name + tags : name + "|" + tags;
                string metric = _tagFormat == StatsdTagFormat.Influx ? name + tags : name;
                string suffix = _tagFormat == StatsdTagFormat.DogStatsd ? tags : "";
                switch (family.Kind)
                {
                    case MetricKind.Counter:
                        totals[key] = point.Value;
                        double delta = _previousTotals.TryGetValue(key, out double previous) ? point.Value - previous : point.Value;
                        if (delta < 0)
                        {
                            // The counter restarted (its plugin was reloaded): everything it has now is new.
                            delta = point.Value;
                        }

                        if (delta != 0)
                        {
                            lines.Add(metric + ":" + Format(delta) + "|c" + suffix);
                        }

                        break;

                    case MetricKind.UpDownCounter:
                    case MetricKind.Gauge:
                        // "name:-5|g" means "decrease by 5" to statsd; a negative value is set by going through 0 first.
                        lines.Add(point.Value < 0
                            ? metric + ":0|g" + suffix + "\n" + metric + ":" + Format(point.Value) + "|g" + suffix
                            : metric + ":" + Format(point.Value) + "|g" + suffix);
                        break;

                    case MetricKind.Histogram:
                        histograms[key] = (point.Count, point.Sum);
                        (long count, double sum) = (point.Count, point.Sum);
                        if (_previousHistograms.TryGetValue(key, out (long Count, double Sum) before) && before.Count <= count)
                        {
                            count -= before.Count;
                            sum -= before.Sum;
                        }

                        if (count > 0)
                        {
                            double mean = sum / count * MillisecondsPerUnit(family.Unit);
                            string rate = count > 1 ? "|@" + Format(1.0 / count) : "";
                            lines.Add(metric + ":" + Format(mean) + "|ms" + rate + suffix);
                        }

                        break;
                }
            }
        }

        _previousTotals = totals;
        _previousHistograms = histograms;
        return lines;
    }

    /// <summary>Timers are milliseconds in statsd; other units (bytes, as dotproxy's size timers) are sent as they are.</summary>
    private static double MillisecondsPerUnit(string? unit) => unit switch
    {
        "s" => 1000,
        "us" => 0.001,
        "ns" => 0.000001,
        "min" => 60_000,
        _ => 1,
    };

    private string FormatTags(KeyValuePair<string, string>[] tags)
    {
        if (tags.Length == 0 || _tagFormat == StatsdTagFormat.None)
        {
            return "";
        }

        var text = new StringBuilder(32);
        for (int i = 0; i < tags.Length; i++)
        {
            string key = StatsdNames.Sanitize(tags[i].Key);
            string value = StatsdNames.Sanitize(tags[i].Value);
            if (_tagFormat == StatsdTagFormat.DogStatsd)
            {
                text.Append(i == 0 ? "|#" : ",").Append(key).Append(':').Append(value);
            }
            else
            {
                text.Append(',').Append(key).Append('=').Append(value);
            }
        }

        return text.ToString();
    }

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Packs lines into datagrams of at most <see cref="MaxPacketBytes"/>; a longer single line goes alone.</summary>
    private int Send(List<string> lines)
    {
        int packets = 0;
        int used = 0;
        foreach (string line in lines)
        {
            int length = Encoding.UTF8.GetByteCount(line);
            if (used > 0 && used + 1 + length > MaxPacketBytes)
            {
                packets += Flush(_packet.AsSpan(0, used));
                used = 0;
            }

            if (length > MaxPacketBytes)
            {
                packets += Flush(Encoding.UTF8.GetBytes(line));
                continue;
            }

            if (used > 0)
            {
                _packet[used++] = (byte)'\n';
            }

            used += Encoding.UTF8.GetBytes(line, _packet.AsSpan(used));
        }

        if (used > 0)
        {
            packets += Flush(_packet.AsSpan(0, used));
        }

        return packets;
    }

    private int Flush(ReadOnlySpan<byte> datagram)
    {
        try
        {
            _socket!.Send(datagram, SocketFlags.None);
            _failing = false;
            return 1;
        }
        catch (SocketException ex)
        {
            // Connected UDP reports a previous ICMP port unreachable here; log once per failure streak.
            if (!_failing)
            {
                _failing = true;
                ObservabilityLog.StatsdSendFailed(_logger, _address.ToString(), ex.Message);
            }

            return 0;
        }
    }
}
