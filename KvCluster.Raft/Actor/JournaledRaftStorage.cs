using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The core's <see cref="IRaftStorage"/> for a <see cref="RaftActor"/>: an in-memory index of the log, hard state and
/// latest snapshot whose source of truth is the journal and the snapshot store. It is filled from what
/// <see cref="RaftLogActor"/> recovered, and updated only after the journal (or snapshot store) confirmed a write
/// durable, so it never shows the core anything that a crash could take back. Compaction drops entries from memory
/// only. Used on the RaftActor's mailbox turn only.
/// </summary>
internal sealed class JournaledRaftStorage : IRaftStorage
{
    /// <summary>The entries after the compaction point.</summary>
    private readonly StoredLog _log;

    /// <summary>Creates the index from recovered state.</summary>
    /// <param name="hardState">The last hard state in the journal.</param>
    /// <param name="log">The log as recovered (after its compaction point).</param>
    /// <param name="snapshot">The snapshot recovered with it, or <see cref="SnapshotMetadata.None"/>.</param>
    /// <exception cref="InvalidOperationException">The snapshot does not cover the compacted prefix.</exception>
    public JournaledRaftStorage(HardState hardState, StoredLog log, SnapshotMetadata snapshot)
    {
        if (snapshot.Index < log.Offset || snapshot.Index > log.LastIndex)
        {
            throw new InvalidOperationException(
                $"Recovered snapshot {snapshot.Index} does not cover the recovered log ({log.FirstIndex}..{log.LastIndex}).");
        }

        _log = log;
        InitialHardState = hardState;
        Snapshot = snapshot;
    }

    /// <inheritdoc />
    public HardState InitialHardState { get; private set; }

    /// <inheritdoc />
    public long FirstIndex => _log.FirstIndex;

    /// <inheritdoc />
    public long LastIndex => _log.LastIndex;

    /// <inheritdoc />
    public SnapshotMetadata Snapshot { get; private set; }

    /// <summary>
    /// Reflects a write the journal confirmed durable: snapshot installed, truncate, append, hard state (the order of
    /// <see cref="Ready"/>).
    /// </summary>
    /// <param name="snapshot">A snapshot from the leader that replaced the log, or null.</param>
    /// <param name="truncateFrom">First index deleted, or null.</param>
    /// <param name="entries">Entries appended after the truncation, consecutive.</param>
    /// <param name="hardState">The new hard state, or null.</param>
    /// <exception cref="InvalidOperationException">The entries would leave a gap (a bug in the driver).</exception>
    public void Apply(SnapshotMetadata? snapshot, long? truncateFrom, IReadOnlyList<Entry> entries, HardState? hardState)
    {
        if (snapshot is not null)
        {
            _log.Reset(snapshot.Index, snapshot.Term);
            Snapshot = snapshot;
        }

        if (truncateFrom is long from)
        {
            _log.TruncateFrom(from);
        }

        foreach (var entry in entries)
        {
            if (!_log.TryAppend(entry))
            {
                throw new InvalidOperationException($"Entry {entry.Index} does not follow the last stored index {_log.LastIndex}.");
            }
        }

        if (hardState is HardState hs)
        {
            InitialHardState = hs;
        }
    }

    /// <summary>Records a snapshot of this node's state machine that is now durable in the snapshot store.</summary>
    /// <param name="snapshot">Its metadata; newer than the current one, inside the log.</param>
    public void SetSnapshot(SnapshotMetadata snapshot)
    {
        if (snapshot.Index > Snapshot.Index && snapshot.Index <= _log.LastIndex && snapshot.Index >= _log.Offset)
        {
            Snapshot = snapshot;
        }
    }

    /// <summary>Drops entries up to <paramref name="index"/> from memory (never beyond the snapshot).</summary>
    /// <param name="index">The new compaction point.</param>
    public void Compact(long index) => _log.CompactTo(Math.Min(index, Snapshot.Index));

    /// <inheritdoc />
    public long Term(long index) => _log.Term(index);

    /// <inheritdoc />
    public IReadOnlyList<Entry> Entries(long lo, long hi, long maxBytes) => _log.Entries(lo, hi, maxBytes);
}
