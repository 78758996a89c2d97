using System.Text.Json.Serialization;

namespace KvCluster.Testing.Linearizability;

/// <summary>How a client learned the fate of an operation.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OperationOutcome>))]
public enum OperationOutcome
{
    /// <summary>The operation completed and its output is known; it took effect exactly once.</summary>
    Ok,

    /// <summary>
    /// The operation definitely did not take effect (for example rejected before reaching the log).
    /// The checker ignores it.
    /// </summary>
    Fail,

    /// <summary>
    /// Indeterminate (timeout, lost connection, node crash): the operation may or may not have taken
    /// effect, at any time after its invocation. The checker treats it as completing at +infinity
    /// with an unknown output and accepts histories both with and without it.
    /// </summary>
    Info,
}

/// <summary>
/// One client operation in a history: what was asked, what came back, and the real-time interval
/// [<see cref="Call"/>, <see cref="Return"/>] during which it was outstanding.
/// Times are in any monotonic unit (the recorder uses <see cref="System.Diagnostics.Stopwatch"/>
/// ticks); only their order matters. An operation A precedes B in real time when
/// A.Return &lt; B.Call; equal times count as overlapping.
/// </summary>
/// <typeparam name="TInput">The model's input type (what the client asked).</typeparam>
/// <typeparam name="TOutput">The model's output type (what the client got back).</typeparam>
/// <param name="Id">Unique within the history.</param>
/// <param name="ClientId">The client (process, thread) that issued the operation.</param>
/// <param name="Input">What the client asked.</param>
/// <param name="Output">What the client got back; <c>default</c> unless <see cref="Outcome"/> is <see cref="OperationOutcome.Ok"/>.</param>
/// <param name="Call">Invocation time.</param>
/// <param name="Return">Completion time; <see cref="long.MaxValue"/> (+infinity) for <see cref="OperationOutcome.Info"/>.</param>
/// <param name="Outcome">Whether the output is known, the operation surely failed, or its fate is unknown.</param>
public sealed record Operation<TInput, TOutput>(
    int Id,
    int ClientId,
    TInput Input,
    TOutput? Output,
    long Call,
    long Return,
    OperationOutcome Outcome)
{
    /// <summary>The completion time used for an indeterminate operation: +infinity.</summary>
    public const long Infinity = long.MaxValue;
}
