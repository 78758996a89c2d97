using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>RaftLogActor → parent: the journal and the latest valid snapshot were read; the core can be created.</summary>
/// <param name="HardState">The last persisted hard state (its commit index raised to the snapshot's when lower).</param>
/// <param name="Log">The log after its compaction point (reset to the snapshot when the journal did not reach it).</param>
/// <param name="Snapshot">The latest valid snapshot, or null when there is none.</param>
/// <param name="EventCount">How many events were replayed (for the log line).</param>
internal sealed record RaftLogRecovered(HardState HardState, StoredLog Log, RecoveredSnapshot? Snapshot, long EventCount) : INoSerializationVerificationNeeded;

/// <summary>A snapshot read back from the snapshot store and verified.</summary>
/// <param name="Decoded">Its metadata, time and state machine image.</param>
/// <param name="Envelope">The stored bytes (what is sent to followers).</param>
/// <param name="SequenceNr">Its sequence number in the snapshot store.</param>
internal sealed record RecoveredSnapshot(DecodedSnapshot Decoded, byte[] Envelope, long SequenceNr);

/// <summary>RaftLogActor → parent: replaying the journal failed; the node cannot start. The log actor stops. A
/// <see cref="RaftUnrecoverableStateException"/> cause means no valid snapshot covers the compacted log.</summary>
/// <param name="Cause">What failed.</param>
internal sealed record RaftLogRecoveryFailed(Exception Cause) : INoSerializationVerificationNeeded;

/// <summary>Parent → RaftLogActor: make the durable part of one Ready durable. At most one is outstanding.</summary>
/// <param name="TruncateFrom">First index to delete, or null.</param>
/// <param name="Entries">Entries to append after the truncation.</param>
/// <param name="HardState">The hard state to store, or null.</param>
/// <param name="Snapshot">A snapshot from the leader to install first (saved to the snapshot store, then the log reset
/// to it in the same event as the entries), or null.</param>
/// <param name="SnapshotEnvelope">That snapshot's envelope bytes; set exactly when <paramref name="Snapshot"/> is.</param>
internal sealed record PersistReady(
    long? TruncateFrom, IReadOnlyList<Entry> Entries, HardState? HardState, SnapshotMetadata? Snapshot = null, byte[]? SnapshotEnvelope = null)
    : INoSerializationVerificationNeeded;

/// <summary>RaftLogActor → parent: the last <see cref="PersistReady"/> is durable.</summary>
internal sealed record ReadyPersisted : INoSerializationVerificationNeeded
{
    /// <summary>The single instance.</summary>
    public static ReadyPersisted Instance { get; } = new();
}

/// <summary>RaftLogActor → parent: the last <see cref="PersistReady"/> failed or was rejected; nothing is known about
/// what was written. The log actor stops; the parent must stop without sending anything that promised durability.</summary>
/// <param name="Cause">What failed.</param>
internal sealed record ReadyPersistFailed(Exception Cause) : INoSerializationVerificationNeeded;

/// <summary>Parent → RaftLogActor: save a snapshot of this node's state machine to the snapshot store. Answered
/// <see cref="RaftSnapshotSaved"/> or <see cref="RaftSnapshotSaveFailed"/>.</summary>
/// <param name="Metadata">What it covers.</param>
/// <param name="Envelope">The envelope bytes (<see cref="RaftSnapshotEnvelope"/>).</param>
/// <param name="TakenAt">When it was captured (UTC).</param>
internal sealed record SaveRaftSnapshot(SnapshotMetadata Metadata, byte[] Envelope, DateTime TakenAt) : INoSerializationVerificationNeeded;

/// <summary>RaftLogActor → parent: a <see cref="SaveRaftSnapshot"/> is durable; older snapshots but the previous one were deleted.</summary>
/// <param name="Request">The request.</param>
/// <param name="SequenceNr">The snapshot's sequence number in the store.</param>
/// <param name="Stored">How long the snapshot store took to make it durable.</param>
internal sealed record RaftSnapshotSaved(SaveRaftSnapshot Request, long SequenceNr, TimeSpan Stored) : INoSerializationVerificationNeeded;

/// <summary>RaftLogActor → parent: a <see cref="SaveRaftSnapshot"/> failed or was refused (not newer than the latest);
/// nothing changed, the parent may try again later.</summary>
/// <param name="Request">The request.</param>
/// <param name="Cause">Why.</param>
internal sealed record RaftSnapshotSaveFailed(SaveRaftSnapshot Request, Exception Cause) : INoSerializationVerificationNeeded;

/// <summary>Parent → RaftLogActor: entries up to <paramref name="Index"/> are covered by a durable snapshot; write the
/// compaction point and delete the journal events that only hold such entries (DeleteMessagesTo).</summary>
/// <param name="Index">The new compaction point; at most the latest durable snapshot's index.</param>
/// <param name="Term">The term of the entry there.</param>
internal sealed record CompactJournal(long Index, long Term) : INoSerializationVerificationNeeded;

/// <summary>Parent → RaftLogActor: read the newest snapshot back from the store (the parent dropped its in-memory copy and
/// a follower needs it). Answered <see cref="LatestRaftSnapshotLoaded"/>, verified off the log actor's turn.</summary>
internal sealed record LoadLatestRaftSnapshot : INoSerializationVerificationNeeded
{
    /// <summary>The single instance.</summary>
    public static LoadLatestRaftSnapshot Instance { get; } = new();
}

/// <summary>RaftLogActor → parent: the newest stored snapshot's envelope (verified), or why there is none.</summary>
/// <param name="Envelope">The envelope, or null.</param>
/// <param name="Index">Its index, or 0.</param>
/// <param name="Error">Why nothing was loaded, or null.</param>
internal sealed record LatestRaftSnapshotLoaded(byte[]? Envelope, long Index, string? Error) : INoSerializationVerificationNeeded;
