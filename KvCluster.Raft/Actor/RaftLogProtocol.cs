using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>RaftLogActor → parent: the journal was replayed; the core can be created from this state.</summary>
/// <param name="HardState">The last persisted hard state.</param>
/// <param name="Entries">The log, consecutive from index 1.</param>
/// <param name="EventCount">How many events were replayed (for the log line).</param>
internal sealed record RaftLogRecovered(HardState HardState, IReadOnlyList<Entry> Entries, long EventCount) : INoSerializationVerificationNeeded;

/// <summary>RaftLogActor → parent: replaying the journal failed; the node cannot start. The log actor stops.</summary>
/// <param name="Cause">What failed.</param>
internal sealed record RaftLogRecoveryFailed(Exception Cause) : INoSerializationVerificationNeeded;

/// <summary>Parent → RaftLogActor: make the durable part of one Ready durable. At most one is outstanding.</summary>
/// <param name="TruncateFrom">First index to delete, or null.</param>
/// <param name="Entries">Entries to append after the truncation.</param>
/// <param name="HardState">The hard state to store, or null.</param>
internal sealed record PersistReady(long? TruncateFrom, IReadOnlyList<Entry> Entries, HardState? HardState) : INoSerializationVerificationNeeded;

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
