namespace KvCluster.Client.Bench;

/// <summary>The measured outcome of one `kv bench` run; latencies are of successful requests only.</summary>
internal sealed class BenchResult
{
    /// <summary>Creates the result; the histograms are owned by the result from now on.</summary>
    public BenchResult(
        BenchSettings settings,
        string targetName,
        TimeSpan elapsed,
        LatencyHistogram reads,
        LatencyHistogram writes,
        long readHits,
        long[] errors,
        string? firstError)
    {
        Settings = settings;
        TargetName = targetName;
        Elapsed = elapsed;
        Reads = reads;
        Writes = writes;
        ReadHits = readHits;
        Errors = errors;
        FirstError = firstError;
        All = new LatencyHistogram();
        All.Add(reads);
        All.Add(writes);
    }

    /// <summary>The settings of the run.</summary>
    public BenchSettings Settings { get; }

    /// <summary>Target name as reported by the target.</summary>
    public string TargetName { get; }

    /// <summary>Wall time from the first request issued to the last client finishing.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Latencies of successful gets.</summary>
    public LatencyHistogram Reads { get; }

    /// <summary>Latencies of successful puts.</summary>
    public LatencyHistogram Writes { get; }

    /// <summary>Latencies of every successful request.</summary>
    public LatencyHistogram All { get; }

    /// <summary>
    /// CPU time this process (the load generator) used during the run, all threads. Beside the
    /// target's CPU it shows how much of a shared machine the client itself took.
    /// </summary>
    public TimeSpan ClientCpu { get; init; }

    /// <summary>Load-generator CPU per finished request, in microseconds; 0 when nothing finished.</summary>
    public double ClientCpuMicrosPerRequest =>
        All.Count + ErrorCount == 0 ? 0 : ClientCpu.TotalMicroseconds / (All.Count + ErrorCount);

    /// <summary>Successful gets that found their key.</summary>
    public long ReadHits { get; }

    /// <summary>Failed requests, indexed by <see cref="BenchErrorKind"/>.</summary>
    public IReadOnlyList<long> Errors { get; }

    /// <summary>The message of the first failure seen, if any.</summary>
    public string? FirstError { get; }

    /// <summary>Number of failed requests.</summary>
    public long ErrorCount => Errors.Sum();

    /// <summary>Successful requests per second over <see cref="Elapsed"/>.</summary>
    public double Throughput(LatencyHistogram histogram) =>
        Elapsed > TimeSpan.Zero ? histogram.Count / Elapsed.TotalSeconds : 0;

    /// <summary>
    /// The exit code the run maps to: 0 when every request succeeded, otherwise the code of the
    /// most frequent failure kind (3 unavailable, 4 timeout, 5 rejected).
    /// </summary>
    public int ExitCode
    {
        get
        {
            if (ErrorCount == 0)
            {
                return Cli.ExitCodes.Success;
            }

            var worst = BenchErrorKind.Unavailable;
            for (var k = 0; k < Errors.Count; k++)
            {
                if (Errors[k] > Errors[(int)worst])
                {
                    worst = (BenchErrorKind)k;
                }
            }

            return Cli.ExitCodes.For(worst);
        }
    }
}
