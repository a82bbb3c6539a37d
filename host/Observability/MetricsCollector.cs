using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Gateway.Sdk.Telemetry;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Observability;

/// <summary>
/// Aggregates every System.Diagnostics.Metrics instrument of the host ("Gateway.Host") and of the plugins
/// ("Gateway.Plugins.&lt;id&gt;") — also meters created after start-up, since plugins load at run time — for
/// the Prometheus and statsd exporters. A disposed meter's instruments are dropped with their series
/// (MeterListener reports MeasurementsCompleted), and nothing here references an instrument or a meter,
/// so unloading a plugin is not held up by its metrics.
/// </summary>
internal sealed class MetricsCollector : IDisposable
{
    /// <summary>Meters whose name starts with this are exported.</summary>
    public const string MeterPrefix = "Gateway";

    // Prometheus client defaults (seconds) and the OpenTelemetry SDK defaults (milliseconds).
    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] MillisecondsBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
    // Packet and message sizes: DNS messages, MTU-sized datagrams, TCP segments.
    private static readonly double[] ByteBuckets = [64, 128, 256, 512, 1024, 1500, 4096, 16384, 65536];

    private readonly ILogger _logger;
    private readonly MeterListener _listener;
    private readonly ConcurrentDictionary<InstrumentState, byte> _instruments = new();
    private readonly Lock _snapshotGate = new();
    private bool _disposed;

    public MetricsCollector(ILogger logger)
    {
        _logger = logger;
        _listener = new MeterListener
        {
            InstrumentPublished = OnInstrumentPublished,
            MeasurementsCompleted = OnMeasurementsCompleted,
        };

        // Static lambdas: no closure, no allocation per measurement; the state is the InstrumentState.
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentState)state!).Record((double)value, tags));
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentState)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => ((InstrumentState)state!).Record((double)value, tags));
        _listener.Start();
    }

    /// <summary>The number of instruments currently collected (for tests and diagnostics).</summary>
    public int InstrumentCount => _instruments.Count;

    /// <summary>
    /// Collects the observable instruments (their callbacks run now, on this thread) and copies every series.
    /// Safe to call concurrently with measurements and from several exporters; never throws because of a
    /// plugin's callback.
    /// </summary>
    public MetricsSnapshot Snapshot()
    {
        lock (_snapshotGate)
        {
            if (_disposed)
            {
                return new MetricsSnapshot([]);
            }

            // Observable series are rebuilt on each collection, so a tag set a callback no longer reports disappears.
            foreach (KeyValuePair<InstrumentState, byte> entry in _instruments)
            {
                if (entry.Key.IsObservable)
                {
                    entry.Key.Clear();
                }
            }

            try
            {
                _listener.RecordObservableInstruments();
            }
            catch (Exception ex)
            {
                ObservabilityLog.ObservableCallbackFailed(_logger, ex.GetBaseException().Message);
            }

            var families = new List<MetricFamily>(_instruments.Count);
            foreach (KeyValuePair<InstrumentState, byte> entry in _instruments)
            {
                InstrumentState state = entry.Key;
                if (state.HasOverflowed && !state.OverflowReported)
                {
                    state.OverflowReported = true;
                    ObservabilityLog.SeriesLimitReached(_logger, state.MeterName, state.Name, InstrumentState.MaxSeries);
                }

                families.Add(state.ToFamily());
            }

            families.Sort(static (a, b) =>
            {
                int byMeter = string.CompareOrdinal(a.MeterName, b.MeterName);
                return byMeter != 0 ? byMeter : string.CompareOrdinal(a.Name, b.Name);
            });
            return new MetricsSnapshot(families.ToArray());
        }
    }

    public void Dispose()
    {
        lock (_snapshotGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _listener.Dispose();
        _instruments.Clear();
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!instrument.Meter.Name.StartsWith(MeterPrefix, StringComparison.Ordinal) ||
            CreateState(instrument) is not { } state)
        {
            return;
        }

        _instruments.TryAdd(state, 0);
        listener.EnableMeasurementEvents(instrument, state);
    }

    private void OnMeasurementsCompleted(Instrument instrument, object? state)
    {
        if (state is InstrumentState instrumentState)
        {
            _instruments.TryRemove(instrumentState, out _);
        }
    }

    /// <summary>Describes an instrument by value; null for an instrument type this collector does not know (a custom subclass).</summary>
    private static InstrumentState? CreateState(Instrument instrument)
    {
        Type type = instrument.GetType();
        if (!type.IsGenericType)
        {
            return null;
        }

        Type definition = type.GetGenericTypeDefinition();
        Type valueType = type.GetGenericArguments()[0];
        (MetricKind kind, bool observable) = definition switch
        {
            _ when definition == typeof(Counter<>) => (MetricKind.Counter, false),
            _ when definition == typeof(ObservableCounter<>) => (MetricKind.Counter, true),
            _ when definition == typeof(UpDownCounter<>) => (MetricKind.UpDownCounter, false),
            _ when definition == typeof(ObservableUpDownCounter<>) => (MetricKind.UpDownCounter, true),
            _ when definition == typeof(Gauge<>) => (MetricKind.Gauge, false),
            _ when definition == typeof(ObservableGauge<>) => (MetricKind.Gauge, true),
            _ when definition == typeof(Histogram<>) => (MetricKind.Histogram, false),
            _ => ((MetricKind)(-1), false),
        };
        if ((int)kind < 0)
        {
            return null;
        }

        bool floating = valueType == typeof(double) || valueType == typeof(float) || valueType == typeof(decimal);
        double[]? boundaries = kind == MetricKind.Histogram ? AdvisedBoundaries(instrument) ?? DefaultBoundaries(instrument.Unit) : null;
        return new InstrumentState(
            instrument.Meter.Name,
            instrument.Name,
            string.IsNullOrEmpty(instrument.Unit) ? null : instrument.Unit,
            string.IsNullOrEmpty(instrument.Description) ? null : instrument.Description,
            kind,
            observable,
            floating,
            boundaries,
            StatsdNameOf(instrument));
    }

    /// <summary>The instrument's <see cref="InstrumentTags.StatsdName"/> tag: the owner's statsd name for it, or null.</summary>
    private static string? StatsdNameOf(Instrument instrument)
    {
        if (instrument.Tags is { } tags)
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == InstrumentTags.StatsdName && tag.Value is string { Length: > 0 } name)
                {
                    return name;
                }
            }
        }

        return null;
    }

    /// <summary>InstrumentAdvice&lt;T&gt;.HistogramBucketBoundaries, copied to a sorted, distinct, finite double array.</summary>
    private static double[]? AdvisedBoundaries(Instrument instrument) => instrument switch
    {
        Instrument<byte> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => v),
        Instrument<short> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => v),
        Instrument<int> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => v),
        Instrument<long> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => v),
        Instrument<float> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => v),
        Instrument<double> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => v),
        Instrument<decimal> i => ToBoundaries(i.Advice?.HistogramBucketBoundaries, static v => (double)v),
        _ => null,
    };

    private static double[]? ToBoundaries<T>(IReadOnlyList<T>? advised, Func<T, double> convert)
    {
        if (advised is null || advised.Count == 0)
        {
            return null;
        }

        var bounds = new SortedSet<double>();
        foreach (T value in advised)
        {
            double bound = convert(value);
            if (double.IsFinite(bound))
            {
                bounds.Add(bound);
            }
        }

        return bounds.Count == 0 ? null : [.. bounds];
    }

    private static double[] DefaultBoundaries(string? unit) => unit switch
    {
        "s" => SecondsBuckets,
        "ms" => MillisecondsBuckets,
        "By" or "bytes" or "By/packet" => ByteBuckets,
        _ => MillisecondsBuckets,
    };
}
