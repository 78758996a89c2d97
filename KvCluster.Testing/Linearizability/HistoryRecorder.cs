using System.Diagnostics;

namespace KvCluster.Testing.Linearizability;

/// <summary>
/// Records a history as concurrent clients run. A client calls <see cref="Invoke"/> just before it
/// sends a request and, on the returned handle, exactly one of <see cref="PendingOperation{TInput, TOutput}.Ok"/>
/// (response received), <see cref="PendingOperation{TInput, TOutput}.Fail"/> (the request surely had no
/// effect) or <see cref="PendingOperation{TInput, TOutput}.Info"/> (fate unknown) right after it learns
/// the outcome. Thread-safe. Timestamps are <see cref="Stopwatch"/> ticks taken under a lock and made
/// strictly increasing, so the recorded order of events is the real order the recorder saw.
/// </summary>
/// <typeparam name="TInput">The model's input type.</typeparam>
/// <typeparam name="TOutput">The model's output type.</typeparam>
public sealed class HistoryRecorder<TInput, TOutput>
{
    private readonly Lock _gate = new();
    private readonly List<Operation<TInput, TOutput>?> _completed = [];
    private readonly Dictionary<int, PendingOperation<TInput, TOutput>> _pending = [];
    private long _lastTimestamp;

    /// <summary>Records the invocation of <paramref name="input"/> by <paramref name="clientId"/> now.</summary>
    /// <returns>The handle on which the client reports the outcome, once.</returns>
    public PendingOperation<TInput, TOutput> Invoke(int clientId, TInput input)
    {
        lock (_gate)
        {
            var id = _completed.Count;
            _completed.Add(null);
            var pending = new PendingOperation<TInput, TOutput>(this, id, clientId, input, NextTimestamp());
            _pending.Add(id, pending);
            return pending;
        }
    }

    /// <summary>
    /// The history so far. Operations still pending are included as <see cref="OperationOutcome.Info"/>
    /// (a client that never heard back cannot know whether its request took effect).
    /// Operations that failed are kept (the checker ignores them), so a saved history is complete.
    /// </summary>
    public History<TInput, TOutput> ToHistory()
    {
        lock (_gate)
        {
            var operations = new List<Operation<TInput, TOutput>>(_completed.Count);
            for (var id = 0; id < _completed.Count; id++)
            {
                operations.Add(_completed[id] ?? _pending[id].AsIndeterminate());
            }

            return new History<TInput, TOutput>(operations);
        }
    }

    internal void Complete(PendingOperation<TInput, TOutput> pending, TOutput? output, OperationOutcome outcome)
    {
        lock (_gate)
        {
            if (!_pending.Remove(pending.Id))
            {
                throw new InvalidOperationException(
                    $"Operation {pending.Id} of client {pending.ClientId} was already completed; report an outcome exactly once.");
            }

            var returned = outcome == OperationOutcome.Info ? Operation<TInput, TOutput>.Infinity : NextTimestamp();
            _completed[pending.Id] = new Operation<TInput, TOutput>(
                pending.Id, pending.ClientId, pending.Input, outcome == OperationOutcome.Ok ? output : default, pending.Call, returned, outcome);
        }
    }

    private long NextTimestamp()
    {
        _lastTimestamp = Math.Max(Stopwatch.GetTimestamp(), _lastTimestamp + 1);
        return _lastTimestamp;
    }
}

/// <summary>
/// An invoked operation whose outcome the client has not reported yet. Report exactly one of
/// <see cref="Ok"/>, <see cref="Fail"/> or <see cref="Info"/>; a second report throws.
/// </summary>
/// <typeparam name="TInput">The model's input type.</typeparam>
/// <typeparam name="TOutput">The model's output type.</typeparam>
public sealed class PendingOperation<TInput, TOutput>
{
    private readonly HistoryRecorder<TInput, TOutput> _recorder;

    internal PendingOperation(HistoryRecorder<TInput, TOutput> recorder, int id, int clientId, TInput input, long call)
    {
        _recorder = recorder;
        Id = id;
        ClientId = clientId;
        Input = input;
        Call = call;
    }

    /// <summary>The operation's id in the history.</summary>
    public int Id { get; }

    /// <summary>The client that invoked it.</summary>
    public int ClientId { get; }

    /// <summary>What the client asked.</summary>
    public TInput Input { get; }

    /// <summary>The invocation timestamp.</summary>
    public long Call { get; }

    /// <summary>The response arrived with <paramref name="output"/>; the operation took effect.</summary>
    /// <exception cref="InvalidOperationException">An outcome was already reported.</exception>
    public void Ok(TOutput output) => _recorder.Complete(this, output, OperationOutcome.Ok);

    /// <summary>The operation definitely did not take effect (e.g. rejected before reaching the log).</summary>
    /// <exception cref="InvalidOperationException">An outcome was already reported.</exception>
    public void Fail() => _recorder.Complete(this, default, OperationOutcome.Fail);

    /// <summary>The outcome is unknown (timeout, connection lost): it may or may not have taken effect.</summary>
    /// <exception cref="InvalidOperationException">An outcome was already reported.</exception>
    public void Info() => _recorder.Complete(this, default, OperationOutcome.Info);

    internal Operation<TInput, TOutput> AsIndeterminate() =>
        new(Id, ClientId, Input, default, Call, Operation<TInput, TOutput>.Infinity, OperationOutcome.Info);
}
