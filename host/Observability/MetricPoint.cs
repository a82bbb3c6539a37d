namespace Gateway.Host.Observability;

/// <summary>
/// One series (one tag set) of a <see cref="MetricFamily"/> at snapshot time. Holds only strings and
/// numbers, never a plugin's objects, so a snapshot cannot keep an unloaded plugin alive.
/// </summary>
internal sealed class MetricPoint
{
    public MetricPoint(KeyValuePair<string, string>[] tags, double value, long[]? bucketCounts, double sum, long count)
    {
        Tags = tags;
        Value = value;
        BucketCounts = bucketCounts;
        Sum = sum;
        Count = count;
    }

    /// <summary>Tags sorted by key (ordinal); a plugin meter's series carry a <c>plugin</c> tag.</summary>
    public KeyValuePair<string, string>[] Tags { get; }

    /// <summary>The sum or last value; unused for histograms.</summary>
    public double Value { get; }

    /// <summary>Histogram only: per-bucket (not cumulative) counts, one more than the boundaries (the +Inf bucket).</summary>
    public long[]? BucketCounts { get; }

    /// <summary>Histogram only: the sum of recorded values.</summary>
    public double Sum { get; }

    /// <summary>Histogram only: the number of recorded values (equals the sum of <see cref="BucketCounts"/>).</summary>
    public long Count { get; }
}
