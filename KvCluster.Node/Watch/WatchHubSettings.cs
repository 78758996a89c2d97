namespace KvCluster.Node.Watch;

/// <summary>How a node's <see cref="WatchHub"/> serves watchers (NodeOptions' watch settings).</summary>
public sealed record WatchHubSettings
{
    /// <summary>How often a watcher that asked for progress_notify and got no event since gets a progress response (etcd: 10 min).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Responses one watch stream may have queued for its client; a watcher with more to send is cancelled as too slow.</summary>
    public int MaxPendingResponses { get; init; } = 10_000;

    /// <summary>Events read from the history per query while a watcher catches up (whole revisions; a bigger one comes whole).</summary>
    public int HistorySliceEvents { get; init; } = 1_000;

    /// <summary>A response of a watcher that asked for fragments is split above this size (etcd: the request limit, 1.5 MiB).</summary>
    public int FragmentBytes { get; init; } = 1536 * 1024;

    /// <summary>How long to wait before asking the Raft node again for history when it could not answer (recovering, busy).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long one history query may take before it is asked again.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting out of range.</summary>
    public void EnsureValid()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ProgressInterval, TimeSpan.FromMilliseconds(10), nameof(ProgressInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingResponses, 1, nameof(MaxPendingResponses));
        ArgumentOutOfRangeException.ThrowIfLessThan(HistorySliceEvents, 1, nameof(HistorySliceEvents));
        ArgumentOutOfRangeException.ThrowIfLessThan(FragmentBytes, 1024, nameof(FragmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryDelay, TimeSpan.Zero, nameof(RetryDelay));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(QueryTimeout, TimeSpan.Zero, nameof(QueryTimeout));
    }
}
