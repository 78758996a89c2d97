namespace KvCluster.Testing.Linearizability;

/// <summary>The checker's answer.</summary>
public enum LinearizabilityVerdict
{
    /// <summary>Every partition has a linearization consistent with the model and real-time order.</summary>
    Linearizable,

    /// <summary>Some partition has none: the history is a proof of a consistency violation.</summary>
    NotLinearizable,

    /// <summary>The budget ran out before an answer was found; nothing is proven either way.</summary>
    Unknown,
}

/// <summary>Limits on one <see cref="LinearizabilityChecker.Check"/> call, over all partitions together.</summary>
public sealed record CheckOptions
{
    /// <summary>Wall-clock budget; when exceeded the verdict is <see cref="LinearizabilityVerdict.Unknown"/>. Default 10 s.</summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Budget of model steps (a deterministic alternative to time); default unlimited.</summary>
    public long StepBudget { get; init; } = long.MaxValue;

    /// <summary>The default options.</summary>
    public static CheckOptions Default { get; } = new();
}

/// <summary>The outcome of checking one partition.</summary>
/// <typeparam name="TInput">The model's input type.</typeparam>
/// <typeparam name="TOutput">The model's output type.</typeparam>
/// <param name="Key">The partition key (see <see cref="Model{TState, TInput, TOutput}.PartitionKey"/>).</param>
/// <param name="Verdict">The partition's verdict.</param>
/// <param name="OperationCount">Operations checked (failed operations excluded).</param>
/// <param name="LongestPrefix">
/// The longest sequence of operations the search managed to linearize, in linearization order: the
/// whole linearization when <see cref="Verdict"/> is <see cref="LinearizabilityVerdict.Linearizable"/>
/// (indeterminate operations included only where they took effect).
/// </param>
/// <param name="Explanation">A human-readable account: why it fails, or why it is unknown; a one-liner when linearizable.</param>
/// <param name="Steps">Model steps spent on this partition.</param>
public sealed record PartitionResult<TInput, TOutput>(
    string Key,
    LinearizabilityVerdict Verdict,
    int OperationCount,
    IReadOnlyList<Operation<TInput, TOutput>> LongestPrefix,
    string Explanation,
    long Steps);

/// <summary>The outcome of checking a whole history.</summary>
/// <typeparam name="TInput">The model's input type.</typeparam>
/// <typeparam name="TOutput">The model's output type.</typeparam>
/// <param name="Verdict">
/// <see cref="LinearizabilityVerdict.NotLinearizable"/> if any partition is; else
/// <see cref="LinearizabilityVerdict.Unknown"/> if any partition ran out of budget; else linearizable.
/// </param>
/// <param name="Partitions">Per-partition results, in ordinal key order; partitions not reached before the budget ran out are <see cref="LinearizabilityVerdict.Unknown"/>.</param>
/// <param name="Steps">Model steps spent.</param>
/// <param name="Elapsed">Wall-clock time spent.</param>
public sealed record CheckResult<TInput, TOutput>(
    LinearizabilityVerdict Verdict,
    IReadOnlyList<PartitionResult<TInput, TOutput>> Partitions,
    long Steps,
    TimeSpan Elapsed)
{
    /// <summary>True when the verdict is <see cref="LinearizabilityVerdict.Linearizable"/>.</summary>
    public bool IsLinearizable => Verdict == LinearizabilityVerdict.Linearizable;

    /// <summary>The first partition that is not linearizable (null when there is none).</summary>
    public PartitionResult<TInput, TOutput>? OffendingPartition =>
        Partitions.FirstOrDefault(p => p.Verdict == LinearizabilityVerdict.NotLinearizable);

    /// <summary>A human-readable report: the verdict and the explanation of the partition that decided it.</summary>
    public string Explanation
    {
        get
        {
            var deciding = OffendingPartition ?? Partitions.FirstOrDefault(p => p.Verdict == LinearizabilityVerdict.Unknown);
            var head = $"{Verdict}: {Partitions.Count} partition(s), {Partitions.Sum(p => p.OperationCount)} operation(s), " +
                $"{Steps} model step(s) in {Elapsed.TotalMilliseconds:F0} ms.";
            return deciding is null ? head : head + Environment.NewLine + deciding.Explanation;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Explanation;
}
