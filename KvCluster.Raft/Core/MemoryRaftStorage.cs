namespace KvCluster.Raft.Core;

/// <summary>
/// An in-memory <see cref="IRaftStorage"/> for tests, simulations and benchmarks: the "disk" that survives a
/// simulated crash (keep the instance, drop the <see cref="RaftNode"/>). Supports snapshots and log compaction
/// (<see cref="CreateSnapshot"/>, <see cref="Compact"/>, and a <see cref="Ready.Snapshot"/> to install). Not
/// thread-safe; one driver thread.
/// </summary>
public sealed class MemoryRaftStorage : IRaftStorage
{
    private readonly StoredLog _log = new();

    /// <inheritdoc />
    public HardState InitialHardState { get; private set; }

    /// <inheritdoc />
    public long FirstIndex => _log.FirstIndex;

    /// <inheritdoc />
    public long LastIndex => _log.LastIndex;

    /// <inheritdoc />
    public SnapshotMetadata Snapshot { get; private set; } = SnapshotMetadata.None;

    /// <summary>Persists the hard state of a <see cref="Ready"/>.</summary>
    /// <param name="state">The state to keep.</param>
    public void SetHardState(HardState state)
    {
        InitialHardState = state;
    }

    /// <summary>Deletes every entry at or after <paramref name="index"/> (the <see cref="Ready.TruncateFrom"/> step).</summary>
    /// <param name="index">First index to delete; after the compacted prefix.</param>
    /// <exception cref="ArgumentOutOfRangeException">The index is at or below the compaction point.</exception>
    public void TruncateFrom(long index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, FirstIndex);
        _log.TruncateFrom(index);
    }

    /// <summary>
    /// Appends entries that must directly follow the last stored entry (after any truncation the Ready asked for).
    /// </summary>
    /// <param name="entries">Consecutive entries starting at <see cref="LastIndex"/> + 1.</param>
    /// <exception cref="ArgumentException">The entries would leave a gap or overlap.</exception>
    public void Append(IReadOnlyList<Entry> entries)
    {
        foreach (var entry in entries)
        {
            if (!_log.TryAppend(entry))
            {
                throw new ArgumentException($"Entry index {entry.Index} does not follow the last stored index {_log.LastIndex}.", nameof(entries));
            }
        }
    }

    /// <summary>Installs a snapshot received from the leader (the <see cref="Ready.Snapshot"/> step): every entry is
    /// dropped and the log continues after the snapshot.</summary>
    /// <param name="snapshot">The snapshot; newer than the current one.</param>
    /// <exception cref="ArgumentException">The snapshot is not newer than the current one.</exception>
    public void ApplySnapshot(SnapshotMetadata snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Index <= Snapshot.Index)
        {
            throw new ArgumentException($"Snapshot {snapshot.Index} is not newer than the stored snapshot {Snapshot.Index}.", nameof(snapshot));
        }

        _log.Reset(snapshot.Index, snapshot.Term);
        Snapshot = snapshot;
    }

    /// <summary>Records a snapshot the driver took of its own state machine; entries are kept until <see cref="Compact"/>.</summary>
    /// <param name="snapshot">Metadata from <see cref="RaftNode.CreateSnapshotMetadata"/>.</param>
    /// <exception cref="ArgumentException">The snapshot is not newer than the current one or beyond the log.</exception>
    public void CreateSnapshot(SnapshotMetadata snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Index <= Snapshot.Index || snapshot.Index > LastIndex || _log.Term(snapshot.Index) != snapshot.Term)
        {
            throw new ArgumentException(
                $"Snapshot {snapshot.Index}/t{snapshot.Term} does not fit the stored log ({FirstIndex}..{LastIndex}, snapshot {Snapshot.Index}).", nameof(snapshot));
        }

        Snapshot = snapshot;
    }

    /// <summary>Drops the entries up to <paramref name="index"/> (log compaction, Raft §7); no-op when already compacted.</summary>
    /// <param name="index">At most the snapshot's index, so the snapshot covers every dropped entry.</param>
    /// <exception cref="ArgumentOutOfRangeException">The index is beyond the snapshot.</exception>
    public void Compact(long index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, Snapshot.Index);
        _log.CompactTo(index);
    }

    /// <summary>Applies one <see cref="Ready"/>'s durable part in the required order: snapshot, truncate, append, hard state.</summary>
    /// <param name="ready">The batch returned by <see cref="RaftNode.GetReady"/>.</param>
    public void Persist(Ready ready)
    {
        if (ready.Snapshot is { } snapshot)
        {
            ApplySnapshot(snapshot);
        }

        if (ready.TruncateFrom is long from)
        {
            TruncateFrom(from);
        }

        Append(ready.Entries);
        if (ready.HardState is HardState state)
        {
            SetHardState(state);
        }
    }

    /// <inheritdoc />
    public long Term(long index) => _log.Term(index);

    /// <inheritdoc />
    public IReadOnlyList<Entry> Entries(long lo, long hi, long maxBytes) => _log.Entries(lo, hi, maxBytes);
}
