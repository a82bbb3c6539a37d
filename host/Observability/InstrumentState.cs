using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Gateway.Host.Observability;

/// <summary>
/// The collector's state for one enabled instrument: its description copied as strings and its series.
/// It deliberately holds no reference to the <see cref="Instrument"/> or its <see cref="Meter"/>: the
/// MeterListener passes this object back with every measurement, and a plugin's instruments must be
/// collectable once its meter is disposed.
/// </summary>
internal sealed class InstrumentState
{
    /// <summary>Tag sets beyond this per instrument are folded into one overflow series (an unbounded tag value is a bug).</summary>
    public const int MaxSeries = 2000;

    private static readonly string[] OverflowKeys = ["otel.metric.overflow"];
    private static readonly string[] OverflowValues = ["true"];

    private readonly ConcurrentDictionary<int, MetricSeries> _series = new();
    private readonly Lock _gate = new();
    private readonly int _bucketCount;
    private MetricSeries? _untagged;
    private MetricSeries? _overflow;
    private int _seriesCount;

    public InstrumentState(string meterName, string name, string? unit, string? description, MetricKind kind, bool observable, bool floating, double[]? boundaries, string? statsdName = null)
    {
        StatsdName = statsdName;
        MeterName = meterName;
        Name = name;
        Unit = unit;
        Description = description;
        Kind = kind;
        IsObservable = observable;
        IsFloating = floating;
        Boundaries = boundaries;
        _bucketCount = boundaries is null ? 0 : boundaries.Length + 1;
    }

    public string MeterName { get; }

    public string Name { get; }

    public string? Unit { get; }

    public string? Description { get; }

    /// <summary>The statsd name from the instrument's <c>InstrumentTags.StatsdName</c> tag, or null.</summary>
    public string? StatsdName { get; }

    public MetricKind Kind { get; }

    /// <summary>Observable instruments report totals/current values when collected: their series are set, not added to.</summary>
    public bool IsObservable { get; }

    /// <summary>Whether values accumulate as double (float, double, decimal) rather than long.</summary>
    public bool IsFloating { get; }

    public double[]? Boundaries { get; }

    /// <summary>Set when the instrument first exceeds <see cref="MaxSeries"/>, so the collector logs it once.</summary>
    public bool OverflowReported { get; set; }

    public void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        MetricSeries series = Find(tags);
        if (Kind == MetricKind.Histogram)
        {
            series.RecordHistogram(value, Boundaries!);
        }
        else if (IsObservable || Kind == MetricKind.Gauge)
        {
            series.SetLong(value);
        }
        else
        {
            series.AddLong(value);
        }
    }

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        MetricSeries series = Find(tags);
        if (Kind == MetricKind.Histogram)
        {
            series.RecordHistogram(value, Boundaries!);
        }
        else if (IsObservable || Kind == MetricKind.Gauge)
        {
            series.SetDouble(value);
        }
        else
        {
            series.AddDouble(value);
        }
    }

    /// <summary>Forgets every series; used before collecting an observable instrument so tag sets it stopped reporting disappear.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _series.Clear();
            _untagged = null;
            _overflow = null;
            _seriesCount = 0;
        }
    }

    /// <summary>Whether a new tag set was folded into the overflow series.</summary>
    public bool HasOverflowed => Volatile.Read(ref _overflow) is not null;

    public MetricFamily ToFamily()
    {
        var points = new List<MetricPoint>(Volatile.Read(ref _seriesCount) + 2);
        if (Volatile.Read(ref _untagged) is { } untagged)
        {
            points.Add(ToPoint(untagged));
        }

        foreach (KeyValuePair<int, MetricSeries> entry in _series)
        {
            for (MetricSeries? series = entry.Value; series is not null; series = series.Next)
            {
                points.Add(ToPoint(series));
            }
        }

        if (Volatile.Read(ref _overflow) is { } overflow)
        {
            points.Add(ToPoint(overflow));
        }

        return new MetricFamily(MeterName, Name, Unit, Description, Kind, Boundaries, points.ToArray(), StatsdName);
    }

    private MetricPoint ToPoint(MetricSeries series)
    {
        KeyValuePair<string, string>[] tags = ExportTags(series.Keys, series.Values);
        if (Kind == MetricKind.Histogram)
        {
            long[] buckets = series.ReadBuckets(out double sum, out long count);
            return new MetricPoint(tags, 0, buckets, sum, count);
        }

        return new MetricPoint(tags, series.ReadValue(IsFloating), null, 0, 0);
    }

    /// <summary>
    /// The series' tags plus <c>plugin="&lt;id&gt;"</c> for a plugin meter ("Gateway.Plugins.&lt;id&gt;"), so that two plugins
    /// using the same instrument name stay apart in Prometheus and statsd.
    /// </summary>
    private KeyValuePair<string, string>[] ExportTags(string[] keys, string[] values)
    {
        const string PluginPrefix = "Gateway.Plugins.";
        bool addPlugin = MeterName.StartsWith(PluginPrefix, StringComparison.Ordinal) &&
                         MeterName.Length > PluginPrefix.Length &&
                         Array.IndexOf(keys, "plugin") < 0;
        var tags = new List<KeyValuePair<string, string>>(keys.Length + 1);
        for (int i = 0; i < keys.Length; i++)
        {
            tags.Add(new KeyValuePair<string, string>(keys[i], values[i]));
        }

        if (addPlugin)
        {
            tags.Add(new KeyValuePair<string, string>("plugin", MeterName[PluginPrefix.Length..]));
            tags.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        }

        return tags.ToArray();
    }

    private MetricSeries Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return Volatile.Read(ref _untagged) ?? CreateUntagged();
        }

        int hash = TagValues.Hash(tags);
        if (_series.TryGetValue(hash, out MetricSeries? head))
        {
            for (MetricSeries? series = head; series is not null; series = series.Next)
            {
                if (TagValues.Matches(series.Keys, series.Values, tags))
                {
                    return series;
                }
            }
        }

        return Create(hash, tags);
    }

    private MetricSeries CreateUntagged()
    {
        lock (_gate)
        {
            return _untagged ??= new MetricSeries([], [], _bucketCount);
        }
    }

    private MetricSeries Create(int hash, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_gate)
        {
            // Another thread may have created it between the lock-free lookup and here.
            _series.TryGetValue(hash, out MetricSeries? head);
            for (MetricSeries? series = head; series is not null; series = series.Next)
            {
                if (TagValues.Matches(series.Keys, series.Values, tags))
                {
                    return series;
                }
            }

            if (_seriesCount >= MaxSeries)
            {
                return _overflow ??= new MetricSeries(OverflowKeys, OverflowValues, _bucketCount);
            }

            (string[] keys, string[] values) = TagValues.ToSortedText(tags);
            var created = new MetricSeries(keys, values, _bucketCount) { Next = head };
            _series[hash] = created;
            _seriesCount++;
            return created;
        }
    }
}
