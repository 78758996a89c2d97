namespace KvCluster.Raft.Core;

/// <summary>
/// What an <see cref="Entry"/> carries; the state machine applies only <see cref="Normal"/> entries. The values are
/// those of the wire and journal forms, where a missing type field reads as 0, a normal entry (older journals).
/// </summary>
public enum EntryType
{
    /// <summary>A client command; <see cref="Entry.Data"/> is opaque to the core.</summary>
    Normal = 0,

    /// <summary>
    /// The no-op a new leader appends at the start of its term (Raft §5.4.2, thesis §6.4): committing it
    /// commits every earlier entry and lets the leader serve ReadIndex. Carries no data.
    /// </summary>
    Empty = 1,

    /// <summary>
    /// A single-server configuration change (thesis §4.1): <see cref="Entry.Data"/> is
    /// <see cref="ConfigChangeCodec"/>'s encoding of the change and the configuration it produces. A node uses the
    /// latest such entry in its log, committed or not; the state machine skips it.
    /// </summary>
    ConfigChange = 2,
}

/// <summary>
/// One immutable log entry. Identified by (<see cref="Index"/>, <see cref="Term"/>): two entries with
/// the same index and term hold the same command (Raft §5.3, Log Matching). The core never reads or
/// copies <see cref="Data"/>; whoever creates the entry must not mutate the memory behind it afterwards.
/// </summary>
/// <param name="Term">The leader term in which the entry was created; at least 1.</param>
/// <param name="Index">The entry's position in the log; the first entry has index 1.</param>
/// <param name="Type">Normal command, leader no-op or configuration change.</param>
/// <param name="Data">The command bytes; empty for <see cref="EntryType.Empty"/>; the encoded change for
/// <see cref="EntryType.ConfigChange"/>.</param>
public sealed record Entry(long Term, long Index, EntryType Type, ReadOnlyMemory<byte> Data)
{
    /// <summary>
    /// Bytes this entry counts against message, in-flight and uncommitted bounds: the payload plus a
    /// fixed 16-byte allowance for index, term and type, so that empty entries are not free.
    /// </summary>
    public long Size => Data.Length + 16;

    /// <summary>True when both entries have the same index, term, type and payload bytes.</summary>
    /// <param name="other">The entry to compare with.</param>
    /// <returns>Whether the two entries are the same command at the same position.</returns>
    public bool SameAs(Entry other) =>
        Term == other.Term && Index == other.Index && Type == other.Type && Data.Span.SequenceEqual(other.Data.Span);
}

/// <summary>
/// The state a node must persist before it sends the messages of the <see cref="Ready"/> that carries it
/// (Raft Figure 2, "Persistent state on all servers"; commit is persisted too, as in etcd, so a restart
/// does not re-learn it).
/// </summary>
/// <param name="Term">Latest term the server has seen.</param>
/// <param name="Vote">Candidate that received this server's vote in <paramref name="Term"/>, or 0 for none.</param>
/// <param name="Commit">Highest log index known to be committed.</param>
public readonly record struct HardState(long Term, ulong Vote, long Commit)
{
    /// <summary>The state of a node that has never run: term 0, no vote, nothing committed.</summary>
    public static HardState Empty => default;
}

/// <summary>
/// A linearizable read that may now be served: the caller answers the read from its state machine,
/// which by construction has applied at least <see cref="Index"/> (thesis §6.4).
/// </summary>
/// <param name="Index">The commit index the leader recorded when the read arrived.</param>
/// <param name="Context">The caller's identifier passed to <see cref="RaftNode.ReadIndex"/>.</param>
public readonly record struct ReadState(long Index, ulong Context);
