namespace KvCluster.Testing.MultiNode;

/// <summary>Time limits and locations of a <see cref="MultiNodeSpec{TNode}"/>; every limit is a failure bound, never a measurement.</summary>
public sealed record MultiNodeSpecOptions
{
    /// <summary>Default options.</summary>
    public static MultiNodeSpecOptions Default { get; } = new();

    /// <summary>How long a role waits at a barrier before the barrier fails naming the roles that did not arrive. Default 30 s.</summary>
    public TimeSpan BarrierTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Deadline of one <see cref="MultiNodeSpec{TNode}.RunAsync"/>: every role's code must finish within it. Default 2 min.</summary>
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long starting (or restarting) one node may take, port-bind retries included. Default 30 s.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The actor system name of every node, or null (the default) for each node's own role name. Akka.Cluster joins
    /// only systems of the same name, so a spec whose nodes form a cluster sets it (for instance <c>akkakv</c>); the
    /// nodes are then told apart by their ports.
    /// </summary>
    public string? SystemName { get; init; }

    /// <summary>Parent of the spec's data directory (one sub-directory per role); the system temp directory when null.</summary>
    public string? DataRoot { get; init; }

    /// <summary>Throws naming the first setting out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    /// <exception cref="ArgumentException"><see cref="SystemName"/> is not a valid actor system name.</exception>
    public void Validate()
    {
        if (BarrierTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BarrierTimeout), BarrierTimeout, "MultiNodeSpecOptions.BarrierTimeout must be positive.");
        }

        if (RunTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RunTimeout), RunTimeout, "MultiNodeSpecOptions.RunTimeout must be positive.");
        }

        if (SystemName is not null && !MultiNodeConfig.IsValidSystemName(SystemName))
        {
            throw new ArgumentException($"MultiNodeSpecOptions.SystemName '{SystemName}' is not a valid actor system name: use letters, digits, '-' and '_', starting with a letter or digit.", nameof(SystemName));
        }

        if (StartTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(StartTimeout), StartTimeout, "MultiNodeSpecOptions.StartTimeout must be positive.");
        }
    }
}
