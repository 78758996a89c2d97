using KvCluster.Client.Bench;

namespace KvCluster.Tests.Client;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void ValueAtQuantile_SmallValues_AreExact()
    {
        var histogram = new LatencyHistogram();
        for (var v = 1; v <= 100; v++)
        {
            histogram.Record(v);
        }

        Assert.Equal(50, histogram.ValueAtQuantile(0.50));
        Assert.Equal(90, histogram.ValueAtQuantile(0.90));
        Assert.Equal(99, histogram.ValueAtQuantile(0.99));
        Assert.Equal(100, histogram.ValueAtQuantile(0.999));
        Assert.Equal(100, histogram.ValueAtQuantile(1.0));
        Assert.Equal(1, histogram.Min);
        Assert.Equal(100, histogram.Max);
        Assert.Equal(50.5, histogram.Mean);
    }

    [Fact]
    public void ValueAtQuantile_MicrosecondToSecondValues_WithinOnePercentAboveTruth()
    {
        // 1 µs .. 100 ms in 1 µs steps: the k-th percentile is k% of the range.
        var histogram = new LatencyHistogram();
        for (long us = 1; us <= 100_000; us++)
        {
            histogram.Record(us * 1000);
        }

        foreach (var (q, truth) in new[] { (0.5, 50_000_000L), (0.9, 90_000_000L), (0.99, 99_000_000L), (0.999, 99_900_000L) })
        {
            var reported = histogram.ValueAtQuantile(q);
            Assert.InRange(reported, truth, truth + (truth / 128));
        }

        Assert.Equal(100_000_000, histogram.Max);
    }

    [Fact]
    public void ValueAtQuantile_SkewedData_FindsTheTail()
    {
        // 990 fast requests (1 ms) and 10 slow ones (200 ms): p99 is fast, p99.9 is slow.
        var histogram = new LatencyHistogram();
        for (var i = 0; i < 990; i++)
        {
            histogram.Record(1_000_000);
        }

        for (var i = 0; i < 10; i++)
        {
            histogram.Record(200_000_000);
        }

        Assert.InRange(histogram.ValueAtQuantile(0.99), 1_000_000, 1_008_000);
        Assert.Equal(200_000_000, histogram.ValueAtQuantile(0.999));
        Assert.Equal(200_000_000, histogram.Max);
    }

    [Fact]
    public void IndexOf_EveryMagnitude_HighestEquivalentValueBoundsTheValue()
    {
        for (var bits = 0; bits < LatencyHistogram.MaxValueBits; bits++)
        {
            foreach (var value in new[] { (1L << bits) - 1, 1L << bits, (1L << bits) + 1, (3L << bits) / 2 })
            {
                if (value < 0 || value >= 1L << LatencyHistogram.MaxValueBits)
                {
                    continue;
                }

                var index = LatencyHistogram.IndexOf(value);
                var highest = LatencyHistogram.HighestEquivalentValue(index);
                Assert.InRange(index, 0, LatencyHistogram.BucketCount - 1);
                Assert.InRange(highest, value, value + (value / 128) + 1);
                Assert.Equal(index, LatencyHistogram.IndexOf(highest));
            }
        }
    }

    [Fact]
    public void Record_ValueBeyondRange_CountsItAndKeepsExactMax()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(5);
        histogram.Record(200L * 1_000_000_000); // 200 s, beyond the 68.7 s tracked range

        Assert.Equal(2, histogram.Count);
        Assert.Equal(200L * 1_000_000_000, histogram.Max);
        Assert.Equal(200L * 1_000_000_000, histogram.ValueAtQuantile(1.0));
    }

    [Fact]
    public void Add_TwoClients_MergesCountsMinMaxAndSum()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        a.Record(10);
        a.Record(20);
        b.Record(5);
        b.Record(1000);
        var merged = new LatencyHistogram();

        merged.Add(a);
        merged.Add(b);
        merged.Add(new LatencyHistogram());

        Assert.Equal(4, merged.Count);
        Assert.Equal(5, merged.Min);
        Assert.Equal(1000, merged.Max);
        Assert.Equal(1035, merged.Sum);
        Assert.Equal(10, merged.ValueAtQuantile(0.5));
    }

    [Fact]
    public void ValueAtQuantile_Empty_ReturnsZero()
    {
        var histogram = new LatencyHistogram();

        Assert.Equal(0, histogram.ValueAtQuantile(0.99));
        Assert.Equal(0, histogram.Max);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void ValueAtQuantile_OutOfRange_Throws(double quantile)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LatencyHistogram().ValueAtQuantile(quantile));
    }
}
