namespace KvCluster.Client.Bench;

/// <summary>
/// A log-linear latency histogram in the style of HdrHistogram: values below 2^<see cref="PrecisionBits"/>
/// nanoseconds are counted exactly; above that, each power-of-two range is split into
/// 2^<see cref="PrecisionBits"/> equal buckets, so a reported value is within 1/128 (0.8%) of the
/// recorded one. Recording is a few shifts and one array increment: no allocation, no lock.
/// </summary>
/// <remarks>
/// Single writer: one load-generator client owns one instance and records into it; the runner
/// merges the per-client instances with <see cref="Add"/> once the clients have finished.
/// Values at or above 2^<see cref="MaxValueBits"/> ns (about 68.7 s) are counted in the top bucket;
/// <see cref="Max"/> and <see cref="Sum"/> stay exact.
/// </remarks>
internal sealed class LatencyHistogram
{
    /// <summary>Bits of sub-bucket resolution: 7 bits give 128 buckets per power of two.</summary>
    public const int PrecisionBits = 7;

    /// <summary>Values are tracked up to 2^36 ns (about 68.7 s); larger values land in the top bucket.</summary>
    public const int MaxValueBits = 36;

    private const long SubBucketCount = 1L << PrecisionBits;

    /// <summary>Number of buckets: the linear range plus one band per power of two above it.</summary>
    internal const int BucketCount = (int)((MaxValueBits - PrecisionBits + 1) * SubBucketCount);

    /// <summary>
    /// Count per bucket (layout defined by <see cref="IndexOf"/>); allocated on first use, so a
    /// client that never issues a kind of request holds no 30 KB array for it.
    /// </summary>
    private long[]? _counts;

    /// <summary>Number of recorded values.</summary>
    public long Count { get; private set; }

    /// <summary>Sum of recorded values in nanoseconds (exact).</summary>
    public long Sum { get; private set; }

    /// <summary>Largest recorded value in nanoseconds (exact); 0 when empty.</summary>
    public long Max { get; private set; }

    /// <summary>Smallest recorded value in nanoseconds (exact); 0 when empty.</summary>
    public long Min { get; private set; }

    /// <summary>Mean of the recorded values in nanoseconds; 0 when empty.</summary>
    public double Mean => Count == 0 ? 0 : (double)Sum / Count;

    /// <summary>Records one latency in nanoseconds; negative values are recorded as 0.</summary>
    public void Record(long nanoseconds)
    {
        if (nanoseconds < 0)
        {
            nanoseconds = 0;
        }

        (_counts ??= new long[BucketCount])[IndexOf(nanoseconds)]++;
        if (Count == 0 || nanoseconds < Min)
        {
            Min = nanoseconds;
        }

        if (nanoseconds > Max)
        {
            Max = nanoseconds;
        }

        Count++;
        Sum += nanoseconds;
    }

    /// <summary>Records the time between two timestamps taken at <paramref name="frequency"/> ticks per second.</summary>
    public void RecordElapsed(long startTimestamp, long endTimestamp, long frequency)
    {
        var ticks = endTimestamp - startTimestamp;
        Record(frequency == 1_000_000_000
            ? ticks
            : (long)(ticks * (1_000_000_000.0 / frequency)));
    }

    /// <summary>Forgets every recorded value.</summary>
    public void Reset()
    {
        if (_counts is not null)
        {
            Array.Clear(_counts);
        }

        Count = 0;
        Sum = 0;
        Max = 0;
        Min = 0;
    }

    /// <summary>Adds every count of <paramref name="other"/> to this histogram (used to merge clients).</summary>
    public void Add(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Count == 0)
        {
            return;
        }

        var counts = _counts ??= new long[BucketCount];
        var others = other._counts!;
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] += others[i];
        }

        Min = Count == 0 ? other.Min : Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
        Count += other.Count;
        Sum += other.Sum;
    }

    /// <summary>
    /// The value at quantile <paramref name="quantile"/> (0..1]: the highest value equivalent to
    /// the bucket holding the ⌈q·Count⌉-th smallest recording, capped at <see cref="Max"/>.
    /// Returns 0 when the histogram is empty.
    /// </summary>
    public long ValueAtQuantile(double quantile)
    {
        if (quantile is not (> 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(quantile), quantile, "A quantile is in (0, 1].");
        }

        if (Count == 0)
        {
            return 0;
        }

        var counts = _counts!;
        var rank = Math.Max(1L, (long)Math.Ceiling(quantile * Count));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                // The top bucket also holds everything beyond the tracked range: report the exact max.
                return i == counts.Length - 1 ? Max : Math.Min(Math.Max(HighestEquivalentValue(i), Min), Max);
            }
        }

        return Max;
    }

    /// <summary>Bucket index of a value: exact below 2^PrecisionBits, log-linear above.</summary>
    internal static int IndexOf(long value)
    {
        if (value < SubBucketCount)
        {
            return (int)value;
        }

        var exponent = 63 - (int)long.LeadingZeroCount(value);
        if (exponent >= MaxValueBits)
        {
            return BucketCount - 1;
        }

        var shift = exponent - PrecisionBits;
        var mantissa = value >> shift; // in [2^P, 2^(P+1))
        return (int)(((shift + 1) * SubBucketCount) + (mantissa - SubBucketCount));
    }

    /// <summary>The largest value that maps to bucket <paramref name="index"/>.</summary>
    internal static long HighestEquivalentValue(int index)
    {
        if (index < SubBucketCount)
        {
            return index;
        }

        var band = (index / SubBucketCount) - 1; // the shift of this band
        var mantissa = SubBucketCount + (index % SubBucketCount);
        return ((mantissa + 1) << (int)band) - 1;
    }
}
