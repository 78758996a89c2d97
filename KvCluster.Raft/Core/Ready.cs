namespace KvCluster.Raft.Core;

/// <summary>
/// One batch of work the core hands its driver (etcd's <c>Ready</c>). The driver carries it out in this order:
/// <list type="number">
/// <item>Send <see cref="Messages"/> (may also be sent in parallel with step 2: they do not depend on local durability;
/// this lets a leader write its log while followers write theirs, thesis §10.2.1).</item>
/// <item>Persist: when <see cref="Snapshot"/> is set, make the snapshot (metadata and the image the driver received
/// with it) durable and drop every stored entry, the log continuing after it; then delete stored entries from <see cref="TruncateFrom"/> when set, append <see cref="Entries"/>, save
/// <see cref="HardState"/> when set. Durable (fsync) before step 3. A failed write must stop the node: nothing is
/// known about what was written.</item>
/// <item>Send <see cref="MessagesAfterPersist"/>: votes and append acknowledgements promise durable state.</item>
/// <item>Restore the state machine from <see cref="Snapshot"/>'s image when set; apply <see cref="CommittedEntries"/> to the state machine, in order (skipping <see cref="EntryType.Empty"/>).</item>
/// <item>Serve <see cref="ReadStates"/>: the state machine now holds every index they need.</item>
/// <item>Call <see cref="RaftNode.Advance"/> with this instance.</item>
/// </list>
/// The lists are owned by the driver once returned; the core never mutates them.
/// </summary>
public sealed class Ready
{
    internal Ready(
        RaftRole role,
        ulong leader,
        HardState? hardState,
        long? truncateFrom,
        IReadOnlyList<Entry> entries,
        IReadOnlyList<RaftMessage> messages,
        IReadOnlyList<RaftMessage> messagesAfterPersist,
        IReadOnlyList<Entry> committedEntries,
        IReadOnlyList<ReadState> readStates,
        bool termOrVoteChanged,
        SnapshotMetadata? snapshot = null)
    {
        Snapshot = snapshot;
        _termOrVoteChanged = termOrVoteChanged;
        Role = role;
        Leader = leader;
        HardState = hardState;
        TruncateFrom = truncateFrom;
        Entries = entries;
        Messages = messages;
        MessagesAfterPersist = messagesAfterPersist;
        CommittedEntries = committedEntries;
        ReadStates = readStates;
    }

    /// <summary>The node's role when this batch was taken (informational; not persisted).</summary>
    public RaftRole Role { get; }

    /// <summary>The leader this node knows of when this batch was taken, or 0.</summary>
    public ulong Leader { get; }

    /// <summary>
    /// A snapshot from the leader to install (Raft §7), or null. The driver persists it before <see cref="Entries"/>
    /// (which follow it), resets the stored log to start after it, and restores the state machine from the image it
    /// received with the <see cref="InstallSnapshot"/> message, before applying anything else.
    /// </summary>
    public SnapshotMetadata? Snapshot { get; }

    /// <summary>Hard state to persist, or null when it did not change since the last batch.</summary>
    public HardState? HardState { get; }

    /// <summary>
    /// When set, every stored entry at or after this index must be deleted before <see cref="Entries"/> are appended:
    /// a leader overwrote a conflicting, uncommitted suffix (Raft Figure 2, AppendEntries receiver rule 3).
    /// It always equals the index of <see cref="Entries"/>[0].
    /// </summary>
    public long? TruncateFrom { get; }

    /// <summary>Entries to append to stable storage, consecutive.</summary>
    public IReadOnlyList<Entry> Entries { get; }

    /// <summary>Messages that may be sent before the persist completes (leader appends, heartbeats, reads, TimeoutNow).</summary>
    public IReadOnlyList<RaftMessage> Messages { get; }

    /// <summary>Messages that must be sent only after this batch is durable (vote requests and results, append results).</summary>
    public IReadOnlyList<RaftMessage> MessagesAfterPersist { get; }

    /// <summary>Committed entries to apply, consecutive from the last applied index + 1; each is handed out exactly once.</summary>
    public IReadOnlyList<Entry> CommittedEntries { get; }

    /// <summary>Linearizable reads that may be served once <see cref="CommittedEntries"/> are applied.</summary>
    public IReadOnlyList<ReadState> ReadStates { get; }

    private readonly bool _termOrVoteChanged;

    /// <summary>Whether the batch carries anything to persist.</summary>
    public bool MustPersist => HardState is not null || Entries.Count > 0 || Snapshot is not null;

    /// <summary>
    /// Whether the batch must be durable before step 3 (etcd's <c>MustSync</c>): it appends or truncates entries, or
    /// changes the term or the vote. A <see cref="HardState"/> that only moves the commit index need not be: the commit
    /// index is re-learned from the leader (or, on a leader, re-established by committing an entry of its new term), and
    /// the entries it covers are already durable on a quorum. A driver may write such a hard state later, with the next
    /// batch that must sync.
    /// </summary>
    public bool MustSync => Entries.Count > 0 || TruncateFrom is not null || _termOrVoteChanged || Snapshot is not null;
}
