using KvCluster.Raft.Actor;

namespace KvCluster.Node.Hosting;

/// <summary>The snapshot and log-compaction settings (issue 17), mapped onto the RaftActor's settings.</summary>
public sealed partial record NodeOptions
{
    /// <summary>
    /// The default <see cref="SnapshotCount"/>: etcd 3.4's 100,000 entries. A snapshot serializes the whole store with its
    /// history, so its CPU per entry is the store's size over this count: at 10,000 entries, snapshots of a
    /// 100,000-key store took about a fifth of the servers' CPU per put (issue 15, docs/BENCHMARKS.md).
    /// </summary>
    public const long DefaultSnapshotCount = 100_000;

    /// <summary>The default <see cref="SnapshotBytes"/>: 64 MiB.</summary>
    public const long DefaultSnapshotBytes = 64L * 1024 * 1024;

    /// <summary>The default <see cref="SnapshotLogRatio"/>: a snapshot once the log after the last one is as big as it.</summary>
    public const double DefaultSnapshotLogRatio = 1.0;

    /// <summary>The default <see cref="SnapshotOnStopRatio"/>.</summary>
    public const double DefaultSnapshotOnStopRatio = 0.1;

    /// <summary>The default <see cref="SnapshotCatchupEntries"/>: etcd's 5,000 entries.</summary>
    public const long DefaultSnapshotCatchupEntries = 5_000;

    /// <summary>
    /// Entries applied since the last snapshot that make the node take a new one (etcd's <c>--snapshot-count</c>);
    /// once it is durable, the log before it (less <see cref="SnapshotCatchupEntries"/>) is deleted. At least 1.
    /// </summary>
    public long SnapshotCount { get; init; } = DefaultSnapshotCount;

    /// <summary>
    /// Bytes of log entries applied since the last snapshot that make the node take a new one, whichever of this and
    /// <see cref="SnapshotCount"/> comes first; 0 turns this trigger off.
    /// </summary>
    public long SnapshotBytes { get; init; } = DefaultSnapshotBytes;

    /// <summary>
    /// Also take a snapshot once the log bytes applied since the last one reach this multiple of its size (after at
    /// least 10,000 entries, etcd 3.6's snapshot count): a restart replays that log, so it bounds the replay by the
    /// store's size; a big store still waits for <see cref="SnapshotCount"/>. 0 turns this trigger off.
    /// </summary>
    public double SnapshotLogRatio { get; init; } = DefaultSnapshotLogRatio;

    /// <summary>
    /// An orderly stop (SIGTERM) first takes a snapshot when the log bytes applied since the last one reach this fraction
    /// of its size (and at least 1,000 entries), so the next start applies no log after its snapshot; a big store with a
    /// short log is not written again. Waited for up to half of <see cref="ShutdownTimeoutMs"/>. 0 turns it off.
    /// </summary>
    public double SnapshotOnStopRatio { get; init; } = DefaultSnapshotOnStopRatio;

    /// <summary>
    /// Entries kept in the log behind the latest snapshot, so a follower that lags by fewer catches up by AppendEntries
    /// rather than a snapshot transfer (etcd's catch-up entries). 0 or more.
    /// </summary>
    public long SnapshotCatchupEntries { get; init; } = DefaultSnapshotCatchupEntries;

    /// <summary>Maps the snapshot settings onto the RaftActor's (<see cref="RaftActorSettings.SnapshotEntries"/>,
    /// <see cref="RaftActorSettings.SnapshotBytes"/>, <see cref="RaftActorSettings.CompactionMarginEntries"/>).</summary>
    public RaftActorSettings WithSnapshotSettings(RaftActorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings with
        {
            SnapshotEntries = SnapshotCount,
            SnapshotBytes = SnapshotBytes,
            SnapshotLogRatio = SnapshotLogRatio,
            SnapshotOnStopRatio = SnapshotOnStopRatio,
            CompactionMarginEntries = SnapshotCatchupEntries,
        };
    }

    /// <summary>Checks the snapshot settings; called by <see cref="Validate"/>.</summary>
    /// <exception cref="NodeConfigurationException">A snapshot setting is out of range; the exception names it.</exception>
    private void ValidateSnapshots()
    {
        Require(SnapshotCount >= 1, nameof(SnapshotCount), $"must be at least 1 entry, was {SnapshotCount}");
        Require(SnapshotBytes >= 0, nameof(SnapshotBytes), $"must be 0 (off) or more bytes, was {SnapshotBytes}");
        Require(SnapshotLogRatio >= 0 && double.IsFinite(SnapshotLogRatio), nameof(SnapshotLogRatio), $"must be 0 (off) or a positive number, was {SnapshotLogRatio}");
        Require(SnapshotOnStopRatio >= 0 && double.IsFinite(SnapshotOnStopRatio), nameof(SnapshotOnStopRatio), $"must be 0 (off) or a positive number, was {SnapshotOnStopRatio}");
        Require(SnapshotCatchupEntries >= 0, nameof(SnapshotCatchupEntries), $"must be 0 or more entries, was {SnapshotCatchupEntries}");
    }
}
