namespace Gateway.Plugins.DnsDot.Statistics;

/// <summary>
/// Latency counts in logarithmic buckets, four per doubling from 10 µs (so a percentile read from it is within
/// ~19 % of the true value, HdrHistogram-style, in 96 ints whatever the query count): bounded memory for
/// percentiles over minutes and hours.
/// </summary>
internal static class LatencyHistogram
{
    /// <summary>Buckets per histogram: 10 µs · 2^(95/4) ≈ 140 s at the top.</summary>
    public const int Buckets = 96;

    private const double FirstMicros = 10;

    /// <summary>The bucket of a latency.</summary>
    public static int Bucket(double milliseconds)
    {
        double micros = milliseconds * 1000;
        if (micros <= FirstMicros)
        {
            return 0;
        }

        int bucket = (int)(Math.Log2(micros / FirstMicros) * 4) + 1;
        return Math.Min(bucket, Buckets - 1);
    }

    /// <summary>A representative latency of a bucket in milliseconds (the geometric middle of its range).</summary>
    public static double Value(int bucket) =>
        bucket == 0 ? FirstMicros / 1000 : FirstMicros * Math.Pow(2, (bucket - 0.5) / 4) / 1000;

    /// <summary>The <paramref name="quantile"/> (0..1) of <paramref name="counts"/> in milliseconds; 0 when empty.</summary>
    public static double Percentile(ReadOnlySpan<long> counts, double quantile)
    {
        long total = 0;
        foreach (long count in counts)
        {
            total += count;
        }

        if (total == 0)
        {
            return 0;
        }

        long rank = (long)Math.Ceiling(quantile * total);
        long seen = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return Math.Round(Value(i), 3);
            }
        }

        return Math.Round(Value(counts.Length - 1), 3);
    }
}
