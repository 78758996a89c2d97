namespace KvCluster.Testing.Linearizability;

/// <summary>
/// A sequential specification for the linearizability checker: the initial state and what each
/// operation does to it. Implementations must be pure (no side effects, same answer for the same
/// arguments) and states must be immutable values with a consistent <see cref="StateComparer"/>:
/// the checker memoizes (set of linearized operations, state) pairs.
/// </summary>
/// <typeparam name="TState">An immutable state value.</typeparam>
/// <typeparam name="TInput">What a client asks.</typeparam>
/// <typeparam name="TOutput">What a client gets back.</typeparam>
public abstract class Model<TState, TInput, TOutput>
{
    /// <summary>The state before any operation (of one partition).</summary>
    public abstract TState Init();

    /// <summary>
    /// Applies <paramref name="input"/> to <paramref name="state"/> and says whether
    /// <paramref name="output"/> is what a correct sequential object would have answered; when it is,
    /// also returns the state after the operation.
    /// </summary>
    public abstract (bool Ok, TState Next) Step(TState state, TInput input, TOutput output);

    /// <summary>
    /// Applies an operation whose output is unknown (<see cref="OperationOutcome.Info"/>) on the
    /// assumption that it took effect. Returns not-ok when it could not have taken effect from
    /// <paramref name="state"/> (for example a compare-and-set whose condition surely fails): taking no
    /// effect at all is always also considered by the checker, so this need only describe the effect.
    /// </summary>
    public abstract (bool Ok, TState Next) StepIndeterminate(TState state, TInput input);

    /// <summary>
    /// The partition an operation belongs to (P-compositionality: linearizability is checked per
    /// partition, each from <see cref="Init"/>). Only valid when operations in different partitions
    /// never affect each other, e.g. one partition per key of a KV store. Default: one partition.
    /// </summary>
    public virtual string PartitionKey(TInput input) => string.Empty;

    /// <summary>Equality and hashing of states, used by the checker's memo cache.</summary>
    public virtual IEqualityComparer<TState> StateComparer => EqualityComparer<TState>.Default;

    /// <summary>A short human-readable form of an operation for reports; <paramref name="output"/> is default when unknown.</summary>
    public virtual string Describe(TInput input, TOutput? output, OperationOutcome outcome) =>
        outcome == OperationOutcome.Ok ? $"{input} -> {output}" : $"{input} -> ? ({outcome})";

    /// <summary>A short human-readable form of a state for reports.</summary>
    public virtual string DescribeState(TState state) => state?.ToString() ?? "null";
}
