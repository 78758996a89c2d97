namespace KvCluster.Raft.Core;

/// <summary>
/// A message between Raft nodes. Every message names its sender, its receiver and the sender's term;
/// a receiver first reconciles terms (Raft Figure 2, "Rules for Servers, All Servers"), then hands the
/// message to its current role. Messages are immutable and may be delivered late, twice, out of order
/// or not at all; the core tolerates all of those.
/// </summary>
/// <param name="From">The sending node's id.</param>
/// <param name="To">The receiving node's id.</param>
/// <param name="Term">The sender's current term (for a pre-vote request: the term it would campaign in).</param>
public abstract record RaftMessage(ulong From, ulong To, long Term);

/// <summary>A candidate (or pre-candidate) asks for a vote (Raft Figure 2, RequestVote RPC; thesis §9.6).</summary>
/// <param name="From">The candidate.</param>
/// <param name="To">The voter.</param>
/// <param name="Term">The candidate's term; for a pre-vote, the term it would use (current + 1).</param>
/// <param name="LastLogIndex">Index of the candidate's last log entry.</param>
/// <param name="LastLogTerm">Term of the candidate's last log entry.</param>
/// <param name="PreVote">True for a PreVote round, which changes no term or vote anywhere.</param>
/// <param name="LeadershipTransfer">True when the election was started by <see cref="TimeoutNow"/>, which lets it
/// override a voter's leader lease (thesis §3.10, §4.2.3).</param>
public sealed record RequestVote(
    ulong From, ulong To, long Term, long LastLogIndex, long LastLogTerm, bool PreVote, bool LeadershipTransfer)
    : RaftMessage(From, To, Term);

/// <summary>A voter's answer to <see cref="RequestVote"/>.</summary>
/// <param name="From">The voter.</param>
/// <param name="To">The candidate.</param>
/// <param name="Term">The voter's term, or for a granted pre-vote the term the request carried.</param>
/// <param name="PreVote">Echoes <see cref="RequestVote.PreVote"/>.</param>
/// <param name="Granted">Whether the vote (or pre-vote) was granted.</param>
public sealed record RequestVoteResult(ulong From, ulong To, long Term, bool PreVote, bool Granted)
    : RaftMessage(From, To, Term);

/// <summary>The leader replicates entries (Raft Figure 2, AppendEntries RPC).</summary>
/// <param name="From">The leader.</param>
/// <param name="To">The follower.</param>
/// <param name="Term">The leader's term.</param>
/// <param name="PrevLogIndex">Index of the entry immediately preceding <paramref name="Entries"/>.</param>
/// <param name="PrevLogTerm">Term of the entry at <paramref name="PrevLogIndex"/>.</param>
/// <param name="Entries">Consecutive entries starting at <paramref name="PrevLogIndex"/> + 1; may be empty (a probe).</param>
/// <param name="LeaderCommit">The leader's commit index.</param>
public sealed record AppendEntries(
    ulong From, ulong To, long Term, long PrevLogIndex, long PrevLogTerm, IReadOnlyList<Entry> Entries, long LeaderCommit)
    : RaftMessage(From, To, Term);

/// <summary>
/// A follower's answer to <see cref="AppendEntries"/>. On success <see cref="Index"/> is the highest index the
/// follower now durably holds matching the leader. On rejection <see cref="Index"/> is the rejected
/// PrevLogIndex and the hint (<see cref="ConflictTerm"/>, <see cref="ConflictIndex"/>) lets the leader skip a
/// whole conflicting term per round trip (Raft §5.3, the optimisation described at the end of the section).
/// </summary>
/// <param name="From">The follower.</param>
/// <param name="To">The leader.</param>
/// <param name="Term">The follower's term.</param>
/// <param name="Success">Whether the follower's log contained an entry matching PrevLogIndex and PrevLogTerm.</param>
/// <param name="Index">Match index on success; the rejected PrevLogIndex on failure.</param>
/// <param name="ConflictTerm">On failure, the term of the follower's entry at PrevLogIndex, or 0 when its log is shorter.</param>
/// <param name="ConflictIndex">On failure, the first index the follower holds for <paramref name="ConflictTerm"/>,
/// or its last index + 1 when its log is shorter.</param>
public sealed record AppendEntriesResult(
    ulong From, ulong To, long Term, bool Success, long Index, long ConflictTerm, long ConflictIndex)
    : RaftMessage(From, To, Term);

/// <summary>
/// The leader asserts its leadership and spreads its commit index without entries (Raft §5.2). A non-zero
/// <see cref="ReadRound"/> asks followers to confirm leadership for ReadIndex (thesis §6.4).
/// </summary>
/// <param name="From">The leader.</param>
/// <param name="To">The follower.</param>
/// <param name="Term">The leader's term.</param>
/// <param name="Commit">min(leader commit, follower match index): never beyond what the follower holds.</param>
/// <param name="ReadRound">The leader's latest ReadIndex round, or 0 when no read is waiting.</param>
public sealed record Heartbeat(ulong From, ulong To, long Term, long Commit, ulong ReadRound)
    : RaftMessage(From, To, Term);

/// <summary>A follower's acknowledgement of a <see cref="Heartbeat"/>; echoes its read round.</summary>
/// <param name="From">The follower.</param>
/// <param name="To">The leader.</param>
/// <param name="Term">The follower's term.</param>
/// <param name="ReadRound">The <see cref="Heartbeat.ReadRound"/> being acknowledged.</param>
public sealed record HeartbeatResult(ulong From, ulong To, long Term, ulong ReadRound)
    : RaftMessage(From, To, Term);

/// <summary>A follower forwards a linearizable read to the leader (thesis §6.4).</summary>
/// <param name="From">The follower that received the read.</param>
/// <param name="To">The leader.</param>
/// <param name="Term">The follower's term.</param>
/// <param name="Context">The follower caller's read identifier; echoed in the answer.</param>
public sealed record ReadIndexRequest(ulong From, ulong To, long Term, ulong Context)
    : RaftMessage(From, To, Term);

/// <summary>The leader's answer to a forwarded read: the follower may serve it once it has applied <see cref="Index"/>.</summary>
/// <param name="From">The leader.</param>
/// <param name="To">The follower.</param>
/// <param name="Term">The leader's term.</param>
/// <param name="Context">Echoes <see cref="ReadIndexRequest.Context"/>.</param>
/// <param name="Index">The read index confirmed by a quorum.</param>
public sealed record ReadIndexResult(ulong From, ulong To, long Term, ulong Context, long Index)
    : RaftMessage(From, To, Term);

/// <summary>The leader tells an up-to-date follower to start an election now (thesis §3.10, leadership transfer).</summary>
/// <param name="From">The leader.</param>
/// <param name="To">The transfer target.</param>
/// <param name="Term">The leader's term.</param>
public sealed record TimeoutNow(ulong From, ulong To, long Term) : RaftMessage(From, To, Term);

/// <summary>
/// The leader sends a follower its latest snapshot because the entries the follower needs next were compacted
/// (Raft §7, InstallSnapshot RPC; etcd's <c>MsgSnap</c>). The core carries only the metadata: the driver transfers the
/// image (in chunks, over its own messages) and steps this message into the follower's core once the whole image has
/// arrived. The follower answers with an <see cref="AppendEntriesResult"/> (success, its new match index) after the
/// snapshot is durable, or at once when the snapshot is stale.
/// </summary>
/// <param name="From">The leader.</param>
/// <param name="To">The follower.</param>
/// <param name="Term">The leader's term.</param>
/// <param name="Snapshot">What the snapshot covers: last index, its term, the configuration.</param>
public sealed record InstallSnapshot(ulong From, ulong To, long Term, SnapshotMetadata Snapshot)
    : RaftMessage(From, To, Term);

/// <summary>
/// One piece of a snapshot being sent to a follower (see <see cref="InstallSnapshot"/>): bytes [<see cref="Offset"/>,
/// <see cref="Offset"/> + length) of the snapshot's envelope. Exchanged by drivers, never stepped into the core; a
/// <see cref="RaftMessage"/> so it travels the same way as every other peer message.
/// </summary>
/// <param name="From">The leader.</param>
/// <param name="To">The follower.</param>
/// <param name="Term">The leader's term.</param>
/// <param name="SnapshotIndex">The snapshot's last index (identifies the transfer with <paramref name="SnapshotTerm"/>).</param>
/// <param name="SnapshotTerm">The snapshot's term.</param>
/// <param name="Offset">Where <paramref name="Data"/> starts in the envelope.</param>
/// <param name="TotalBytes">The envelope's length.</param>
/// <param name="Data">The bytes; must not be mutated.</param>
public sealed record SnapshotChunk(
    ulong From, ulong To, long Term, long SnapshotIndex, long SnapshotTerm, long Offset, long TotalBytes, ReadOnlyMemory<byte> Data)
    : RaftMessage(From, To, Term);

/// <summary>
/// A follower's answer to a <see cref="SnapshotChunk"/>: it holds the first <see cref="NextOffset"/> bytes of the
/// snapshot, so the leader continues (or, after a lost chunk, resends) from there. Exchanged by drivers only.
/// </summary>
/// <param name="From">The follower.</param>
/// <param name="To">The leader.</param>
/// <param name="Term">The follower's term.</param>
/// <param name="SnapshotIndex">The snapshot's last index.</param>
/// <param name="NextOffset">How many bytes of the envelope the follower holds.</param>
public sealed record SnapshotChunkAck(ulong From, ulong To, long Term, long SnapshotIndex, long NextOffset)
    : RaftMessage(From, To, Term);
