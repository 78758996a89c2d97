namespace KvCluster.Testing.MultiNode;

/// <summary>
/// The barriers of one <see cref="MultiNodeSpec{TNode}.RunAsync"/> (the role Akka's TestConductor controller plays
/// for <c>EnterBarrier</c>). Exactly one barrier is in progress at a time; it completes when every role has entered
/// it. It fails for every waiting role when one waiter's timeout expires (naming the roles that did not arrive), when
/// a role enters a barrier of another name meanwhile, or when the run is aborted; after a failure every later
/// barrier fails at once, so no role waits for a peer that will never come. Thread-safe.
/// </summary>
internal sealed class BarrierCoordinator
{
    private readonly Lock _gate = new();
    private readonly IReadOnlyList<RoleName> _roles;
    private Pending? _pending;
    private Exception? _failure;

    public BarrierCoordinator(IReadOnlyList<RoleName> roles)
    {
        _roles = roles;
    }

    /// <summary>Enters <paramref name="name"/> for <paramref name="role"/> and waits for every other role.</summary>
    /// <exception cref="MultiNodeBarrierException">The barrier failed (timeout, wrong barrier, aborted run).</exception>
    public async Task EnterAsync(RoleName role, string name, TimeSpan timeout)
    {
        Pending pending;
        lock (_gate)
        {
            if (_failure is not null)
            {
                throw new MultiNodeBarrierException(name, [], $"Barrier '{name}' entered by {role} failed at once: {_failure.Message}", _failure);
            }

            if (_pending is null)
            {
                _pending = new Pending(name);
            }
            else if (_pending.Name != name)
            {
                var wrong = new MultiNodeBarrierException(
                    _pending.Name,
                    MissingFrom(_pending),
                    $"Role {role} entered barrier '{name}' while barrier '{_pending.Name}' was in progress (arrived there: {Join(_pending.Arrived)}); every role must enter the same barriers in the same order.");
                FailLocked(wrong);
                throw wrong;
            }

            pending = _pending;
            if (!pending.Arrived.Add(role))
            {
                throw new InvalidOperationException($"Role {role} entered barrier '{name}' twice.");
            }

            if (pending.Arrived.Count == _roles.Count)
            {
                _pending = null;
                pending.Done.TrySetResult();
            }
        }

        try
        {
            // No cancellation token: an aborted run fails the barrier itself (Abort), with the reason.
            await pending.Done.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            MultiNodeBarrierException? timedOut = null;
            lock (_gate)
            {
                // Completed or failed by someone else just now: report that outcome below instead.
                if (!pending.Done.Task.IsCompleted)
                {
                    timedOut = new MultiNodeBarrierException(
                        name,
                        MissingFrom(pending),
                        $"Barrier '{name}' timed out after {timeout.TotalSeconds:0.###} s waiting in {role}: {Join(MissingFrom(pending))} did not arrive (arrived: {Join(pending.Arrived)}).");
                    FailLocked(timedOut);
                }
            }

            if (timedOut is not null)
            {
                throw timedOut;
            }

            await pending.Done.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Fails the barrier in progress and every later one with <paramref name="cause"/>.</summary>
    public void Abort(Exception cause)
    {
        lock (_gate)
        {
            if (_failure is not null)
            {
                return;
            }

            if (_pending is { } pending)
            {
                FailLocked(new MultiNodeBarrierException(pending.Name, MissingFrom(pending), $"Barrier '{pending.Name}' aborted: {cause.Message}", cause));
            }
            else
            {
                _failure = cause;
            }
        }
    }

    /// <summary>The barrier in progress and who is still missing, for a deadline report; null when none.</summary>
    public string? Describe()
    {
        lock (_gate)
        {
            return _pending is null ? null : $"barrier '{_pending.Name}' waiting for {Join(MissingFrom(_pending))}";
        }
    }

    private void FailLocked(MultiNodeBarrierException failure)
    {
        _failure ??= failure;
        if (_pending is { } pending)
        {
            _pending = null;
            pending.Done.TrySetException(failure);
        }
    }

    private RoleName[] MissingFrom(Pending pending) => _roles.Where(r => !pending.Arrived.Contains(r)).ToArray();

    private static string Join(IEnumerable<RoleName> roles)
    {
        var text = string.Join(", ", roles);
        return text.Length == 0 ? "(none)" : text;
    }

    private sealed class Pending(string name)
    {
        public string Name { get; } = name;

        public HashSet<RoleName> Arrived { get; } = [];

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
