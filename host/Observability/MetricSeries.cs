namespace Gateway.Host.Observability;

/// <summary>
/// The accumulator of one instrument for one tag set. Updated with <see cref="Interlocked"/> only, so
/// concurrent measurements never take a lock once the series exists.
/// </summary>
internal sealed class MetricSeries
{
    private long _long;
    private double _double;
    private double _sum;
    private readonly long[]? _buckets;

    public MetricSeries(string[] keys, string[] values, int bucketCount)
    {
        Keys = keys;
        Values = values;
        _buckets = bucketCount > 0 ? new long[bucketCount] : null;
    }

    /// <summary>Tag keys, sorted (ordinal).</summary>
    public string[] Keys { get; }

    /// <summary>Tag value texts, parallel to <see cref="Keys"/>.</summary>
    public string[] Values { get; }

    /// <summary>The next series whose tag hash collides with this one (a chain in the instrument's table).</summary>
    public MetricSeries? Next { get; set; }

    public void AddLong(long value) => Interlocked.Add(ref _long, value);

    public void SetLong(long value) => Interlocked.Exchange(ref _long, value);

    public void AddDouble(double value) => AddDouble(ref _double, value);

    public void SetDouble(double value) => Interlocked.Exchange(ref _double, value);

    /// <summary>Records a histogram value into the bucket whose upper bound is the first ≥ the value (Prometheus "le").</summary>
    public void RecordHistogram(double value, double[] boundaries)
    {
        // The span search compares through double's IComparable (inlined), not Comparer<double>.Default as the array
        // overload does: same order (NaN first), a fraction of the cost on every histogram record.
        int index = boundaries.AsSpan().BinarySearch(value);
        if (index < 0)
        {
            index = ~index;
        }

        Interlocked.Increment(ref _buckets![index]);
        AddDouble(ref _sum, value);
    }

    public double ReadValue(bool floating) => floating ? Volatile.Read(ref _double) : Interlocked.Read(ref _long);

    /// <summary>Copies the bucket counts; the count is their sum so that +Inf always equals _count.</summary>
    public long[] ReadBuckets(out double sum, out long count)
    {
        var copy = new long[_buckets!.Length];
        count = 0;
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i] = Interlocked.Read(ref _buckets[i]);
            count += copy[i];
        }

        sum = Volatile.Read(ref _sum);
        return copy;
    }

    private static void AddDouble(ref double location, double value)
    {
        double current = Volatile.Read(ref location);
        while (true)
        {
            double seen = Interlocked.CompareExchange(ref location, current + value, current);
            // Compare bits, as the exchange does: -0.0 equals 0.0 and NaN never equals itself by value.
            if (BitConverter.DoubleToInt64Bits(seen) == BitConverter.DoubleToInt64Bits(current))
            {
                return;
            }

            current = seen;
        }
    }
}
