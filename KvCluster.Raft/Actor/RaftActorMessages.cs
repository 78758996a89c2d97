using Akka.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

/// <summary>
/// Asks the leader to replicate and apply <paramref name="Command"/>. The sender receives exactly one reply:
/// <see cref="ProposeApplied"/> once the command is committed and applied on this node, <see cref="NotLeader"/> when
/// this node does not lead, or <see cref="ProposeDropped"/> when it was refused or lost (it may then be retried; a lost
/// proposal was never applied). A proposal whose leader crashes before replying may still be applied later (the client
/// cannot tell), as in every Raft system without client sessions.
/// </summary>
/// <param name="Command">The command bytes; the sender must not mutate them afterwards.</param>
public sealed record Propose(ReadOnlyMemory<byte> Command);

/// <summary>A proposal was committed at <paramref name="Index"/> and applied; <paramref name="Result"/> is the state machine's answer.</summary>
/// <param name="Index">The log index of the command.</param>
/// <param name="Result">What <see cref="IStateMachine.Apply"/> returned for it.</param>
public sealed record ProposeApplied(long Index, ReadOnlyMemory<byte> Result);

/// <summary>This node is not the leader; retry at <paramref name="LeaderHint"/> when it is non-zero.</summary>
/// <param name="LeaderHint">The node believed to lead, or 0 when none is known.</param>
/// <param name="Reason">A sentence a person can act on.</param>
public sealed record NotLeader(ulong LeaderHint, string Reason);

/// <summary>The request was refused (leadership transfer, too many uncommitted bytes, still recovering) or lost to
/// a leadership change; retry later.</summary>
/// <param name="Reason">Why, in a sentence a person can act on.</param>
/// <param name="Indeterminate">True when an accepted proposal was abandoned (the node stopped) and may still be
/// committed by another leader; false when it certainly was not and will not be applied, so retrying is safe.</param>
public sealed record ProposeDropped(string Reason, bool Indeterminate = false);

/// <summary>
/// A linearizable read (thesis §6.4): the RaftActor confirms it is (or asks) the leader, waits until its state machine
/// has applied the read index, then answers <paramref name="Query"/> with <see cref="IStateMachine.Query"/> and replies
/// <see cref="ReadIndexReply"/>. Other replies: <see cref="NotLeader"/> when no leader is known,
/// <see cref="ProposeDropped"/> when leadership changed while the read was in flight (retry).
/// </summary>
/// <param name="Query">The query bytes handed to the state machine.</param>
public sealed record ReadIndex(ReadOnlyMemory<byte> Query);

/// <summary>The answer to a <see cref="ReadIndex"/>.</summary>
/// <param name="Index">The read index: the answer reflects every entry committed up to at least this index.</param>
/// <param name="Result">What <see cref="IStateMachine.Query"/> returned.</param>
public sealed record ReadIndexReply(long Index, ReadOnlyMemory<byte> Result);

/// <summary>
/// Runs <paramref name="Query"/> against this node's state machine as applied so far, without asking the leader: a
/// serializable read (possibly stale, never uncommitted). Answered <see cref="LocalQueryReply"/>, or
/// <see cref="ProposeDropped"/> while the node is still recovering.
/// </summary>
/// <param name="Query">The query bytes handed to <see cref="IStateMachine.Query"/>.</param>
public sealed record LocalQuery(ReadOnlyMemory<byte> Query);

/// <summary>
/// Asks the leader to hand leadership to <paramref name="Target"/> (thesis §3.10): it stops accepting proposals,
/// brings the target up to date and tells it to campaign at once. Answered <see cref="TransferLeadershipStarted"/>,
/// <see cref="NotLeader"/> (with the hint) or <see cref="ProposeDropped"/> (the target is not a voter).
/// </summary>
/// <param name="Target">A voter other than the leader.</param>
public sealed record TransferLeadership(ulong Target);

/// <summary>
/// The node host's word that the system at <paramref name="Address"/> listens: it is a member of the Akka.Cluster this
/// node joined, so it accepted connections when it joined. For the first election's advance it counts as an
/// association with the peer there (<c>RaftActor.FirstElection</c>): Akka.Remote associates the nodes only once
/// Akka.Cluster heartbeats them, up to a heartbeat interval (1 s) after they see each other in gossip, which for a
/// restarted cluster comes after the journals have recovered. Local only, exempt from <c>serialize-messages</c>.
/// </summary>
/// <param name="Address">The member's address (a peer's is its Raft ref's address).</param>
public sealed record PeerListening(Address Address) : INoSerializationVerificationNeeded;

/// <summary>The transfer began; watch <see cref="RaftStatus.Leader"/> for its end (abandoned after an election timeout).</summary>
/// <param name="From">The leader handing over.</param>
/// <param name="Target">The voter it hands over to.</param>
public sealed record TransferLeadershipStarted(ulong From, ulong Target);

/// <summary>The answer to a <see cref="LocalQuery"/>.</summary>
/// <param name="AppliedIndex">The highest index applied when the query ran.</param>
/// <param name="Result">What <see cref="IStateMachine.Query"/> returned.</param>
public sealed record LocalQueryReply(long AppliedIndex, ReadOnlyMemory<byte> Result);

/// <summary>
/// Asks the node to make its latest hard state durable, the commit index included (a batch that only moves the commit
/// index is not synced on the answer's path; see <see cref="KvCluster.Raft.Core.Ready.MustSync"/>). Answered with
/// <see cref="HardStateSynced"/> once it is. A node host sends it before a graceful stop, so a restart resumes with the
/// commit index it had.
/// </summary>
public sealed record SyncHardState
{
    /// <summary>The single instance.</summary>
    public static SyncHardState Instance { get; } = new();
}

/// <summary>
/// Asks the node, before an orderly stop, for a snapshot at everything it applied, when the log it would replay at its
/// next start is worth it (<see cref="RaftActorSettings.SnapshotOnStopRatio"/>): a restart then restores that snapshot
/// and applies nothing after it. Answered with <see cref="SnapshotBeforeStopDone"/> once the snapshot is durable, or
/// at once when none is taken. The caller bounds the wait; stopping before the answer loses nothing (the journal holds
/// every entry the snapshot would cover).
/// </summary>
public sealed record SnapshotBeforeStop
{
    /// <summary>The single instance.</summary>
    public static SnapshotBeforeStop Instance { get; } = new();
}

/// <summary>The answer to <see cref="SnapshotBeforeStop"/>.</summary>
/// <param name="SnapshotIndex">The node's latest durable snapshot index after the request (0: none).</param>
/// <param name="Taken">Whether a snapshot was taken for the request.</param>
/// <param name="Reason">Why: the entries it covers, or why none was taken.</param>
public sealed record SnapshotBeforeStopDone(long SnapshotIndex, bool Taken, string Reason);

/// <summary>The answer to <see cref="SyncHardState"/>: term, vote, log and commit index are all durable.</summary>
public sealed record HardStateSynced
{
    /// <summary>The single instance.</summary>
    public static HardStateSynced Instance { get; } = new();
}

/// <summary>Asks for a <see cref="RaftStatus"/> (the <c>raft status</c> command).</summary>
public sealed record GetRaftStatus
{
    /// <summary>The single instance.</summary>
    public static GetRaftStatus Instance { get; } = new();
}

/// <summary>A RaftActor's view of itself when it handled <see cref="GetRaftStatus"/>.</summary>
/// <param name="NodeId">This node.</param>
/// <param name="Role">Its role (Follower while it is still recovering from the journal).</param>
/// <param name="Term">Its current term.</param>
/// <param name="Vote">Its vote in <paramref name="Term"/>, or 0.</param>
/// <param name="Leader">The leader it knows of, or 0.</param>
/// <param name="Commit">Highest index known committed.</param>
/// <param name="Applied">Highest index applied to the state machine.</param>
/// <param name="LastIndex">Index of its last log entry (persisted or in flight to the journal).</param>
/// <param name="Match">On a leader, the highest index each follower and learner acknowledged in this term; empty otherwise.</param>
/// <param name="Recovering">True until the journal was replayed and the core created.</param>
public sealed record RaftStatus(
    ulong NodeId,
    RaftRole Role,
    long Term,
    ulong Vote,
    ulong Leader,
    long Commit,
    long Applied,
    long LastIndex,
    IReadOnlyDictionary<ulong, long> Match,
    bool Recovering)
{
    /// <summary>The voters of the configuration in force on this node (the latest in its log, committed or not;
    /// the bootstrap voters while recovering).</summary>
    public IReadOnlyList<ulong> Voters { get; init; } = Array.Empty<ulong>();

    /// <summary>The learners of that configuration (non-voting members catching up).</summary>
    public IReadOnlyList<ulong> Learners { get; init; } = Array.Empty<ulong>();

    /// <summary>Log index of the latest durable snapshot on this node, or 0 when it has none.</summary>
    public long SnapshotIndex { get; init; }

    /// <summary>Term of the entry at <see cref="SnapshotIndex"/>, or 0.</summary>
    public long SnapshotTerm { get; init; }

    /// <summary>Size in bytes of that snapshot's state machine image, or 0.</summary>
    public long SnapshotBytes { get; init; }

    /// <summary>When that snapshot was taken (UTC), or null when there is none.</summary>
    public DateTime? SnapshotTakenAt { get; init; }

    /// <summary>Index of the first entry still in the log (1 until the log was compacted).</summary>
    public long FirstLogIndex { get; init; } = 1;
}

/// <summary>
/// Replaces the RaftActor's peer map (node id → actor ref). Messages to a node missing from the map are dropped,
/// which Raft tolerates like any lost message. Refs may be local or remote: they are used only through
/// <c>Tell</c>. An entry for the node itself is ignored. Local only (it carries refs): it never crosses the network and
/// is exempt from <c>serialize-messages</c>.
/// </summary>
/// <param name="Peers">The new map.</param>
public sealed record SetPeers(IReadOnlyDictionary<ulong, IActorRef> Peers) : INoSerializationVerificationNeeded;

/// <summary>
/// Published on the actor system's event stream when a RaftActor dropped messages to a member of its configuration for
/// want of a ref (at most once a second): a member added while another node led (a learner never campaigns, so its
/// messages do not bring its ref either). The node host resolves the member's address and answers with
/// <see cref="SetPeers"/>. Local only.
/// </summary>
/// <param name="NodeId">The node whose RaftActor has no ref.</param>
/// <param name="PeerId">The member it cannot reach.</param>
public sealed record PeerUnroutable(ulong NodeId, ulong PeerId) : INoSerializationVerificationNeeded;

/// <summary>
/// Published on the actor system's event stream when a RaftActor stops for good (a failed journal write, a failed
/// recovery). A node host subscribes to learn why: a <see cref="RaftUnrecoverableStateException"/> cause means the
/// durable state cannot be rebuilt (exit code 3); anything else is a storage failure.
/// </summary>
/// <param name="NodeId">The node whose RaftActor stopped.</param>
/// <param name="Cause">Why.</param>
public sealed record RaftNodeFailed(ulong NodeId, Exception Cause) : INoSerializationVerificationNeeded;
