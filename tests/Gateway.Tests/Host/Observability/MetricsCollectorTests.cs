using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Gateway.Host.Observability;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Observability;

public sealed class MetricsCollectorTests
{
    // The collector sees every "Gateway*" meter in the process (other tests run in parallel), so each test uses its own meter.
    private static string UniqueMeter(string kind = "Gateway.Tests.Observability") => kind + "." + Guid.NewGuid().ToString("N");

    private static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

    internal static MetricFamily Family(MetricsCollector collector, string meter, string name) =>
        Assert.Single(collector.Snapshot().Families, f => f.MeterName == meter && f.Name == name);

    private static double ValueOf(MetricFamily family, params (string Key, string Value)[] tags)
    {
        MetricPoint point = Assert.Single(family.Points, p => p.Tags.Length == tags.Length && tags.All(t => p.Tags.Contains(new KeyValuePair<string, string>(t.Key, t.Value))));
        return point.Value;
    }

    [Fact]
    public void Snapshot_CounterWithTags_SumsPerTagSet()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Counter<long> counter = meter.CreateCounter<long>("requests", unit: "{request}", description: "Requests served");

        counter.Add(1, Tag("transport", "udp"), Tag("rcode", 0));
        counter.Add(2, Tag("rcode", "0"), Tag("transport", "udp"));
        counter.Add(5, Tag("transport", "tcp"), Tag("rcode", 2));
        counter.Add(7);

        MetricFamily family = Family(collector, meterName, "requests");
        Assert.Equal(MetricKind.Counter, family.Kind);
        Assert.Equal("{request}", family.Unit);
        Assert.Equal("Requests served", family.Description);
        Assert.Equal(3, family.Points.Length);
        Assert.Equal(3, ValueOf(family, ("rcode", "0"), ("transport", "udp")));
        Assert.Equal(5, ValueOf(family, ("rcode", "2"), ("transport", "tcp")));
        Assert.Equal(7, ValueOf(family));
        Assert.All(family.Points, p => Assert.True(p.Tags.Select(t => t.Key).SequenceEqual(p.Tags.Select(t => t.Key).Order(StringComparer.Ordinal))));
    }

    [Fact]
    public void Snapshot_TagValuesOfEveryKind_AreInvariantText()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        UpDownCounter<int> counter = meter.CreateUpDownCounter<int>("open");

        counter.Add(4, Tag("ok", true), Tag("ratio", 0.5), Tag("kind", DayOfWeek.Monday), Tag("none", null));
        counter.Add(-1, Tag("ok", true), Tag("ratio", 0.5), Tag("kind", DayOfWeek.Monday), Tag("none", null));

        MetricFamily family = Family(collector, meterName, "open");
        Assert.Equal(MetricKind.UpDownCounter, family.Kind);
        Assert.Equal(3, ValueOf(family, ("kind", "Monday"), ("none", ""), ("ok", "true"), ("ratio", "0.5")));
    }

    [Fact]
    public void Snapshot_DoubleCounterFromManyThreads_AddsExactly()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Counter<double> counter = meter.CreateCounter<double>("work", unit: "s");

        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                counter.Add(0.5, Tag("worker", "w"));
            }
        });

        Assert.Equal(20_000, ValueOf(Family(collector, meterName, "work"), ("worker", "w")));
    }

    [Fact]
    public void Snapshot_HistogramWithAdvice_CountsIntoAdvisedBuckets()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Histogram<int> histogram = meter.CreateHistogram("size", unit: "By", description: null,
            tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [10, 100, 1000] });

        foreach (int value in new[] { 5, 10, 11, 500, 5000 })
        {
            histogram.Record(value, Tag("dir", "in"));
        }

        MetricFamily family = Family(collector, meterName, "size");
        Assert.Equal(MetricKind.Histogram, family.Kind);
        Assert.Equal([10, 100, 1000], family.Boundaries!);
        MetricPoint point = Assert.Single(family.Points);
        Assert.Equal([2L, 1L, 1L, 1L], point.BucketCounts!);
        Assert.Equal(5, point.Count);
        Assert.Equal(5526, point.Sum);
    }

    [Fact]
    public void Snapshot_HistogramInSecondsWithoutAdvice_UsesSecondsBuckets()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Histogram<double> histogram = meter.CreateHistogram<double>("duration", unit: "s");

        histogram.Record(0.003);
        histogram.Record(0.2);

        MetricFamily family = Family(collector, meterName, "duration");
        Assert.Equal(0.005, family.Boundaries![0]);
        Assert.Equal(10, family.Boundaries[^1]);
        MetricPoint point = Assert.Single(family.Points);
        Assert.Equal(2, point.Count);
        Assert.Equal(1, point.BucketCounts![0]);
        Assert.Equal(0.203, point.Sum, 9);
    }

    [Fact]
    public void Snapshot_ObservableInstruments_AreCollectedAtSnapshotTime()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        long total = 10;
        bool reportSecond = true;
        meter.CreateObservableCounter("total", () => total);
        meter.CreateObservableGauge("queue", () => reportSecond
            ? new[] { new Measurement<double>(1.5, Tag("q", "a")), new Measurement<double>(2.5, Tag("q", "b")) }
            : new[] { new Measurement<double>(1.5, Tag("q", "a")) });
        meter.CreateObservableUpDownCounter("sessions", () => -3);

        Assert.Equal(10, ValueOf(Family(collector, meterName, "total")));
        Assert.Equal(2.5, ValueOf(Family(collector, meterName, "queue"), ("q", "b")));
        Assert.Equal(-3, ValueOf(Family(collector, meterName, "sessions")));

        total = 25;
        reportSecond = false;
        Assert.Equal(25, ValueOf(Family(collector, meterName, "total")));
        MetricFamily queue = Family(collector, meterName, "queue");
        Assert.Equal(MetricKind.Gauge, queue.Kind);
        Assert.Equal(1.5, Assert.Single(queue.Points).Value);
    }

    [Fact]
    public void Snapshot_SynchronousGauge_KeepsLastValue()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Gauge<long> gauge = meter.CreateGauge<long>("peers");

        gauge.Record(4);
        gauge.Record(2);

        Assert.Equal(2, ValueOf(Family(collector, meterName, "peers")));
    }

    [Fact]
    public void Snapshot_ThrowingObservableCallback_OtherInstrumentsStillExported()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        meter.CreateObservableGauge<int>("broken", (Func<int>)(() => throw new InvalidOperationException("plugin bug")));
        meter.CreateObservableGauge("fine", () => 42);
        Counter<int> counter = meter.CreateCounter<int>("plain");
        counter.Add(1);

        MetricsSnapshot snapshot = collector.Snapshot();

        Assert.Equal(42, Assert.Single(Assert.Single(snapshot.Families, f => f.MeterName == meterName && f.Name == "fine").Points).Value);
        Assert.Equal(1, Assert.Single(Assert.Single(snapshot.Families, f => f.MeterName == meterName && f.Name == "plain").Points).Value);
    }

    [Fact]
    public void Snapshot_MeterCreatedAfterCollector_IsCollectedAndOthersIgnored()
    {
        using var collector = new MetricsCollector(NullLogger.Instance);
        string meterName = UniqueMeter();
        string foreignName = "Other." + Guid.NewGuid().ToString("N");
        using var meter = new Meter(meterName);
        using var foreign = new Meter(foreignName);
        meter.CreateCounter<long>("late").Add(3);
        foreign.CreateCounter<long>("late").Add(3);

        MetricsSnapshot snapshot = collector.Snapshot();

        Assert.Contains(snapshot.Families, f => f.MeterName == meterName);
        Assert.DoesNotContain(snapshot.Families, f => f.MeterName == foreignName);
    }

    [Fact]
    public void Snapshot_PluginMeter_AddsPluginTag()
    {
        string pluginId = "obs-test-" + Guid.NewGuid().ToString("N");
        string meterName = "Gateway.Plugins." + pluginId;
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        meter.CreateCounter<long>("queries").Add(2, Tag("type", "A"));

        Assert.Equal(2, ValueOf(Family(collector, meterName, "queries"), ("plugin", pluginId), ("type", "A")));
    }

    [Fact]
    public void Snapshot_UnboundedTagValues_FoldIntoOverflowSeries()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Counter<long> counter = meter.CreateCounter<long>("by_client");

        for (int i = 0; i < InstrumentState.MaxSeries + 50; i++)
        {
            counter.Add(1, Tag("client", i));
        }

        MetricFamily family = Family(collector, meterName, "by_client");
        Assert.Equal(InstrumentState.MaxSeries + 1, family.Points.Length);
        Assert.Equal(50, ValueOf(family, ("otel.metric.overflow", "true")));
    }

    [Fact]
    public void Record_ExistingSeries_AllocatesNothing()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        using var meter = new Meter(meterName);
        Counter<long> counter = meter.CreateCounter<long>("packets");
        Histogram<double> histogram = meter.CreateHistogram<double>("duration", unit: "s");
        KeyValuePair<string, object?> transport = Tag("transport", "udp");
        KeyValuePair<string, object?> rcode = Tag("rcode", 3);

        // Other tests' collectors may start listening to this meter at any moment and create their series on
        // this thread; a window without such a start must show zero bytes.
        long allocated = long.MaxValue;
        for (int attempt = 0; attempt < 5 && allocated != 0; attempt++)
        {
            counter.Add(1, transport, rcode);
            histogram.Record(0.01, transport, rcode);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                counter.Add(1, transport, rcode);
                histogram.Record(0.01, transport, rcode);
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Snapshot_DisposedMeter_SeriesDisappear()
    {
        string meterName = UniqueMeter();
        using var collector = new MetricsCollector(NullLogger.Instance);
        var meter = new Meter(meterName);
        meter.CreateCounter<long>("gone").Add(1);
        meter.CreateObservableGauge("gone_too", () => 1);
        Assert.Equal(2, collector.Snapshot().Families.Count(f => f.MeterName == meterName));

        meter.Dispose();

        Assert.DoesNotContain(collector.Snapshot().Families, f => f.MeterName == meterName);
    }

    [Fact]
    public void Dispose_Meter_CollectorKeepsNoReferenceToMeterInstrumentsOrTagValues()
    {
        string meterName = UniqueMeter("Gateway.Plugins.obs-leak-test");
        using var collector = new MetricsCollector(NullLogger.Instance);

        WeakReference[] references = RecordThenDispose(collector, meterName);

        for (int i = 0; i < 10 && references.Any(r => r.IsAlive); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        Assert.All(references, r => Assert.False(r.IsAlive, $"{r.Target} survived its meter's disposal"));
        Assert.DoesNotContain(collector.Snapshot().Families, f => f.MeterName == meterName);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference[] RecordThenDispose(MetricsCollector collector, string meterName)
    {
        var meter = new Meter(meterName);
        Counter<long> counter = meter.CreateCounter<long>("requests");
        var callbackTarget = new GaugeSource();
        ObservableGauge<int> gauge = meter.CreateObservableGauge("depth", callbackTarget.Read);
        var tagValue = new PluginTagValue();
        counter.Add(1, Tag("kind", tagValue));
        Assert.Equal(2, collector.Snapshot().Families.Count(f => f.MeterName == meterName));

        meter.Dispose();
        return [new WeakReference(meter), new WeakReference(counter), new WeakReference(gauge), new WeakReference(callbackTarget), new WeakReference(tagValue)];
    }

    /// <summary>Stands for an object of a plugin's assembly used as a tag value.</summary>
    private sealed class PluginTagValue
    {
        public override string ToString() => "plugin-object";
    }

    /// <summary>Stands for a plugin object whose method is an observable callback.</summary>
    private sealed class GaugeSource
    {
        public int Read() => 3;
    }
}
