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

    /// <summary>The default <see cref="MaxRequestBytes"/>: 1.5 MiB, etcd's default --max-request-bytes.</summary>
    public const int DefaultMaxRequestBytes = 1536 * 1024;

    /// <summary>The default <see cref="MaxTxnOps"/>: 128, etcd's default --max-txn-ops.</summary>
    public const int DefaultMaxTxnOps = 128;

    /// <summary>The default limits (4 KiB keys, 1 MiB values, 1.5 MiB requests, 128 txn operations).</summary>
    public static KvLimits Default { get; } = new();

    /// <summary>The largest key, in bytes, that is accepted. Keys are never empty.</summary>
    public int MaxKeyBytes { get; init; } = DefaultMaxKeyBytes;

    /// <summary>The largest value, in bytes, that is accepted. Empty values are allowed.</summary>
    public int MaxValueBytes { get; init; } = DefaultMaxValueBytes;

    /// <summary>
    /// The largest encoded etcd request, in bytes, that is accepted (etcd's --max-request-bytes:
    /// "etcdserver: request is too large" beyond it).
    /// </summary>
    public int MaxRequestBytes { get; init; } = DefaultMaxRequestBytes;

    /// <summary>
    /// The most operations one etcd txn may hold in its compares, success or failure list (etcd's
    /// --max-txn-ops: "etcdserver: too many operations in txn request" beyond it).
    /// </summary>
    public int MaxTxnOps { get; init; } = DefaultMaxTxnOps;

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

        if (MaxRequestBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxRequestBytes), MaxRequestBytes, $"{nameof(MaxRequestBytes)} must be a positive number of bytes.");
        }

        if (MaxTxnOps <= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(MaxTxnOps), MaxTxnOps, $"{nameof(MaxTxnOps)} must be a positive number of operations.");
        }
    }
}
