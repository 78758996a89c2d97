namespace KvCluster.Testing.MultiNode;

/// <summary>
/// What the spec's code sees while it runs as one role (Akka's <c>MultiNodeSpec</c> instance on one node):
/// <see cref="Myself"/>, its node, <see cref="RunOn"/>, <see cref="EnterBarrierAsync(string[])"/> and the conductor.
/// <see cref="MultiNodeSpec{TNode}.RunAsync"/> runs the same code once per role, concurrently; state the roles share
/// (a leader found by one role, say) may live in the spec's own variables, handed over across a barrier.
/// </summary>
/// <typeparam name="TNode">The spec's node handle type.</typeparam>
public sealed class MultiNodeContext<TNode>
    where TNode : class, IMultiNodeHandle
{
    private readonly BarrierCoordinator _barriers;
    private readonly TimeSpan _barrierTimeout;

    internal MultiNodeContext(MultiNodeSpec<TNode> spec, RoleName myself, BarrierCoordinator barriers, TimeSpan barrierTimeout, CancellationToken cancellationToken)
    {
        Spec = spec;
        Myself = myself;
        _barriers = barriers;
        _barrierTimeout = barrierTimeout;
        CancellationToken = cancellationToken;
    }

    /// <summary>The role this code runs as.</summary>
    public RoleName Myself { get; }

    /// <summary>The spec: every node, addresses, data directories.</summary>
    public MultiNodeSpec<TNode> Spec { get; }

    /// <summary>The conductor (faults between nodes, crashes, restarts).</summary>
    public TestConductor<TNode> Conductor => Spec.Conductor;

    /// <summary>This role's node as it runs now (a restart replaces it).</summary>
    /// <exception cref="InvalidOperationException">The node is down.</exception>
    public TNode Node => Spec.Node(Myself);

    /// <summary>Cancelled when another role failed or the run's deadline passed; pass it to long waits.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The last barrier this role completed (for failure reports).</summary>
    public string? LastBarrier { get; private set; }

    /// <summary>True when this code runs as one of <paramref name="roles"/>.</summary>
    public bool IsNode(params RoleName[] roles) => roles.Contains(Myself);

    /// <summary>Runs <paramref name="action"/> only when this code runs as one of <paramref name="roles"/>.</summary>
    public void RunOn(Action action, params RoleName[] roles)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (IsNode(roles))
        {
            action();
        }
    }

    /// <summary>Runs and awaits <paramref name="action"/> only when this code runs as one of <paramref name="roles"/>.</summary>
    public async Task RunOnAsync(Func<Task> action, params RoleName[] roles)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (IsNode(roles))
        {
            await action().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Enters each barrier of <paramref name="names"/> in turn; each completes when every role of the spec entered it.
    /// </summary>
    /// <exception cref="MultiNodeBarrierException">A barrier timed out after <see cref="MultiNodeSpecOptions.BarrierTimeout"/>
    /// (the message names who did not arrive), a role entered another barrier, or another role failed.</exception>
    public Task EnterBarrierAsync(params string[] names) => EnterBarrierAsync(_barrierTimeout, names);

    /// <summary>As <see cref="EnterBarrierAsync(string[])"/> with a timeout of its own for each barrier.</summary>
    /// <exception cref="MultiNodeBarrierException">See <see cref="EnterBarrierAsync(string[])"/>.</exception>
    public async Task EnterBarrierAsync(TimeSpan timeout, params string[] names)
    {
        foreach (var name in names)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            await _barriers.EnterAsync(Myself, name, timeout).ConfigureAwait(false);
            LastBarrier = name;
        }
    }
}
