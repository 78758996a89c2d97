namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// The φ-accrual failure detector (Hayashibara et al., 2004), as in Akka: keeps a window of
/// heartbeat inter-arrival times and reports φ = −log10(P(a heartbeat arrives later than now)),
/// with a normal distribution of mean + acceptable pause and a floor on the deviation.
/// </summary>
/// <remarks>Pure: time comes in as millisecond timestamps, so tests drive it with fake clocks.
/// Not thread-safe; its owner serialises calls.</remarks>
internal sealed class PhiAccrualFailureDetector
{
    private readonly double _threshold;
    private readonly double _minStdDeviationMs;
    private readonly double _acceptablePauseMs;
    private readonly int _maxSamples;
    private readonly Queue<double> _intervals = new();
    private double _sum;
    private double _squaredSum;
    private long? _lastHeartbeatMs;

    /// <summary>Creates a detector; the first heartbeat seeds the window with
    /// <paramref name="firstHeartbeatEstimateMs"/> (mean) and a quarter of it (deviation).</summary>
    public PhiAccrualFailureDetector(double threshold, double minStdDeviationMs, double acceptablePauseMs, double firstHeartbeatEstimateMs, int maxSamples = 200)
    {
        _threshold = threshold;
        _minStdDeviationMs = minStdDeviationMs;
        _acceptablePauseMs = acceptablePauseMs;
        _maxSamples = maxSamples;
        FirstEstimateMs = firstHeartbeatEstimateMs;
    }

    /// <summary>Mean inter-arrival used before real samples exist.</summary>
    public double FirstEstimateMs { get; }

    /// <summary>True once at least one heartbeat arrived.</summary>
    public bool IsMonitoring => _lastHeartbeatMs.HasValue;

    /// <summary>Records a heartbeat arrival at <paramref name="nowMs"/>.</summary>
    public void Heartbeat(long nowMs)
    {
        if (_lastHeartbeatMs is { } last)
        {
            var interval = nowMs - last;
            if (IsAvailable(nowMs))
            {
                Add(interval);
            }
        }
        else
        {
            var stdDev = FirstEstimateMs / 4;
            Add(FirstEstimateMs - stdDev);
            Add(FirstEstimateMs + stdDev);
        }

        _lastHeartbeatMs = nowMs;
    }

    /// <summary>φ at <paramref name="nowMs"/>; zero before the first heartbeat.</summary>
    public double Phi(long nowMs)
    {
        if (_lastHeartbeatMs is not { } last || _intervals.Count == 0)
        {
            return 0.0;
        }

        var mean = _sum / _intervals.Count;
        var variance = (_squaredSum / _intervals.Count) - (mean * mean);
        var stdDev = Math.Max(Math.Sqrt(Math.Max(variance, 0)), _minStdDeviationMs);
        return Phi(nowMs - last, mean + _acceptablePauseMs, stdDev);
    }

    /// <summary>True while φ is below the threshold (or before the first heartbeat).</summary>
    public bool IsAvailable(long nowMs) => Phi(nowMs) < _threshold;

    private static double Phi(double timeDiff, double mean, double stdDev)
    {
        // Logistic approximation of the normal CDF, as Akka's PhiAccrualFailureDetector.
        var y = (timeDiff - mean) / stdDev;
        var e = Math.Exp(-y * (1.5976 + (0.070566 * y * y)));
        return timeDiff > mean ? -Math.Log10(e / (1.0 + e)) : -Math.Log10(1.0 - (1.0 / (1.0 + e)));
    }

    private void Add(double interval)
    {
        if (_intervals.Count >= _maxSamples)
        {
            var old = _intervals.Dequeue();
            _sum -= old;
            _squaredSum -= old * old;
        }

        _intervals.Enqueue(interval);
        _sum += interval;
        _squaredSum += interval * interval;
    }
}
