namespace KvCluster.Node.Kv;

/// <summary>
/// Size limits on keys and values, enforced by <see cref="KvRequestValidator"/> before a command
/// reaches the Raft log and again, defensively, by <see cref="KvStateMachine"/> when it applies.
/// Every member of a cluster must run with the same limits: the state machine's decision to
/// reject is part of the replicated outcome and must be identical on every node.
/// </summary>
public sealed record KvLimits
{
    /// <summary>The default <see cref="MaxKeyBytes"/>: 4 KiB.</summary>
    public const int DefaultMaxKeyBytes = 4 * 1024;

    /// <summary>The default <see cref="MaxValueBytes"/>: 1 MiB.</summary>
    public const int DefaultMaxValueBytes = 1024 * 1024;

    /// <summary>The default limits (4 KiB keys, 1 MiB values).</summary>
    public static KvLimits Default { get; } = new();

    /// <summary>The largest key, in bytes, that is accepted. Keys are never empty.</summary>
    public int MaxKeyBytes { get; init; } = DefaultMaxKeyBytes;

    /// <summary>The largest value, in bytes, that is accepted. Empty values are allowed.</summary>
    public int MaxValueBytes { get; init; } = DefaultMaxValueBytes;

    /// <summary>
    /// Checks the limits themselves (called at start-up with configuration values).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive; the message names the setting.</exception>
    public void EnsureValid()
    {
        if (MaxKeyBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxKeyBytes), MaxKeyBytes, $"{nameof(MaxKeyBytes)} must be a positive number of bytes.");
        }

        if (MaxValueBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxValueBytes), MaxValueBytes, $"{nameof(MaxValueBytes)} must be a positive number of bytes.");
        }
    }
}
