namespace KvCluster.Node.Kv;

/// <summary>
/// The lessor's settings, derived from the Raft timing (see docs/OPERATIONS.md, "Leases"): the minimum TTL as etcd
/// computes it (ceil(1.5 x election ticks x tick)), the extension a new leader gives every lease (one full election
/// timeout, the upper end of the range), how often the leader looks for expired leases, and the wait before an
/// expired lease's revoke is proposed again.
/// </summary>
public sealed record LeaseSettings
{
    /// <summary>A grant below this TTL (seconds) gets this TTL, as etcd's minimum lease TTL.</summary>
    public long MinTtlSeconds { get; init; } = 2;

    /// <summary>Added to every lease's TTL when a node starts to lead.</summary>
    public TimeSpan PromotionExtension { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often the lessor checks its role and the expiries (a lease expires within TTL + about this + a commit).</summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The wait before an expired lease's revoke is proposed again when the first proposal did not apply.</summary>
    public TimeSpan RevokeRetry { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The settings of a node with this Raft timing.</summary>
    /// <param name="tick">The Raft tick.</param>
    /// <param name="electionTicksMin">The lower end of the election timeout range, in ticks.</param>
    /// <param name="electionTicksMax">The upper end of the election timeout range, in ticks.</param>
    public static LeaseSettings ForRaft(TimeSpan tick, int electionTicksMin, int electionTicksMax) => new()
    {
        // etcd: ceil(((3 x election ticks) / 2, integer division) x heartbeat), in whole seconds.
        MinTtlSeconds = Math.Max(1, ((3L * electionTicksMin / 2 * (long)tick.TotalMilliseconds) + 999) / 1000),
        PromotionExtension = tick * electionTicksMax,
    };

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is not positive.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MinTtlSeconds, 1, nameof(MinTtlSeconds));
        ArgumentOutOfRangeException.ThrowIfNegative(PromotionExtension.Ticks, nameof(PromotionExtension));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(CheckInterval.Ticks, nameof(CheckInterval));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(RevokeRetry.Ticks, nameof(RevokeRetry));
    }
}
