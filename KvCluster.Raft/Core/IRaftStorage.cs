namespace KvCluster.Raft.Core;

/// <summary>
/// The durable part of a node's log, read by the core (etcd's <c>Storage</c>). The core never writes it: the
/// caller writes what each <see cref="Ready"/> asks (truncation, entries, hard state) and only then calls
/// <see cref="RaftNode.Advance"/>. Reads happen on the thread driving the node. An implementation reflects every
/// completed write immediately. Indexes are 1-based; index 0 is the empty log's sentinel with term 0.
/// </summary>
public interface IRaftStorage
{
    /// <summary>The hard state last persisted, read once when a <see cref="RaftNode"/> is constructed.</summary>
    HardState InitialHardState { get; }

    /// <summary>Index of the first entry available (1 for a log that was never compacted). The term of the entry
    /// before it stays available through <see cref="Term"/>; <see cref="Snapshot"/> covers every compacted entry.</summary>
    long FirstIndex { get; }

    /// <summary>
    /// The latest durable snapshot (Raft §7): <see cref="SnapshotMetadata.None"/> when there is none. Invariant:
    /// <see cref="FirstIndex"/> - 1 ≤ Snapshot.Index ≤ <see cref="LastIndex"/>, so every compacted entry is covered.
    /// A leader sends it to a follower whose next entry was compacted; the driver holds the image behind it.
    /// </summary>
    SnapshotMetadata Snapshot { get; }

    /// <summary>Index of the last persisted entry, or <see cref="FirstIndex"/> - 1 when there is none.</summary>
    long LastIndex { get; }

    /// <summary>Term of the entry at <paramref name="index"/>, for <see cref="FirstIndex"/> - 1 ≤ index ≤ <see cref="LastIndex"/>.</summary>
    /// <param name="index">The entry's index.</param>
    /// <returns>The term; 0 for index 0.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the available range.</exception>
    long Term(long index);

    /// <summary>
    /// Entries [<paramref name="lo"/>, <paramref name="hi"/>), stopping early once their total <see cref="Entry.Size"/>
    /// would exceed <paramref name="maxBytes"/> (at least one entry is always returned when the range is non-empty).
    /// </summary>
    /// <param name="lo">First index, at least <see cref="FirstIndex"/>.</param>
    /// <param name="hi">One past the last index, at most <see cref="LastIndex"/> + 1.</param>
    /// <param name="maxBytes">Soft byte limit.</param>
    /// <returns>The entries, in index order; the caller must not mutate the list.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the available entries.</exception>
    IReadOnlyList<Entry> Entries(long lo, long hi, long maxBytes);
}
