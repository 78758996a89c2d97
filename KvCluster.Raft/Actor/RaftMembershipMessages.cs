namespace KvCluster.Raft.Actor;

/// <summary>
/// Asks the leader to add node <paramref name="NodeId"/> to the Raft group (thesis §4.2.1): it is added as a learner,
/// which receives the log without voting; once its match index is within
/// <see cref="RaftActorSettings.CatchUpMaxLag"/> entries of the leader's last index at the end of a catch-up round
/// (at most <see cref="RaftActorSettings.CatchUpMaxRounds"/> rounds, within <see cref="RaftActorSettings.CatchUpTimeout"/>),
/// it is promoted to voter. The sender receives exactly one reply: <see cref="MembershipChanged"/> once the promotion is
/// committed and applied here, or <see cref="MembershipChangeFailed"/>.
/// <para>Idempotent: a node that is already a voter gets <see cref="MembershipChanged"/> at once; a learner (for instance
/// after an earlier attempt timed out) resumes at the catch-up step. The host must first make the node reachable with
/// <see cref="SetPeers"/>; a learner without a ref never catches up and the request times out. The new node's own
/// RaftActor starts with <see cref="Core.RaftConfig.Join"/> set.</para>
/// <para>With <paramref name="StayLearner"/> (etcd's <c>member add --learner</c>) the node is added as a learner and left
/// one: the reply comes once the AddLearner entry is committed (at once when it already is a learner or a voter); a
/// later <see cref="AddMember"/> without it promotes it after its catch-up (etcd's <c>member promote</c>).</para>
/// </summary>
/// <param name="NodeId">The node to add; non-zero.</param>
/// <param name="StayLearner">Add as a learner only, never promote.</param>
public sealed record AddMember(ulong NodeId, bool StayLearner = false);

/// <summary>
/// Asks the leader to remove voter or learner <paramref name="NodeId"/> (thesis §4.2.2). The sender receives exactly one
/// reply: <see cref="MembershipChanged"/> once the removal is committed and applied here (also when the leader removed
/// itself: it replies, then has stepped down), or <see cref="MembershipChangeFailed"/>. Idempotent: removing a non-member
/// replies <see cref="MembershipChanged"/> with the current configuration. Removing the last voter is refused.
/// </summary>
/// <param name="NodeId">The member to remove; non-zero.</param>
public sealed record RemoveMember(ulong NodeId);

/// <summary>Asks any RaftActor for its configuration (the <c>raft members</c> command); the reply is <see cref="Members"/>.</summary>
public sealed record GetMembers
{
    /// <summary>The single instance.</summary>
    public static GetMembers Instance { get; } = new();
}

/// <summary>
/// A RaftActor's configuration when it handled <see cref="GetMembers"/>: the latest in its log, committed or not
/// (thesis §4.1). Followers may lag behind the leader's.
/// </summary>
/// <param name="Voters">The voters.</param>
/// <param name="Learners">The learners (non-voting members catching up).</param>
/// <param name="Index">Index of the configuration entry, or 0 for the bootstrap configuration (<c>RaftConfig.Voters</c>).</param>
/// <param name="Committed">Whether that entry is known committed on this node.</param>
/// <param name="Leader">The leader this node knows of, or 0.</param>
/// <param name="Recovering">True while the journal is being replayed; the lists are then the bootstrap configuration.</param>
/// <param name="Promoting">The learners added to become voters once caught up (<see cref="Core.Membership.Promoting"/>);
/// null reads as none.</param>
public sealed record Members(
    IReadOnlyList<ulong> Voters,
    IReadOnlyList<ulong> Learners,
    long Index,
    bool Committed,
    ulong Leader,
    bool Recovering,
    IReadOnlyList<ulong>? Promoting = null);

/// <summary>
/// The reply to a successful <see cref="AddMember"/> or <see cref="RemoveMember"/>: the configuration entry at
/// <paramref name="Index"/> is committed and applied on the replying node.
/// </summary>
/// <param name="Index">Index of the configuration entry now in force (0 when nothing had to change and the bootstrap
/// configuration is in force).</param>
/// <param name="Voters">The voters after the change.</param>
/// <param name="Learners">The learners after the change.</param>
public sealed record MembershipChanged(long Index, IReadOnlyList<ulong> Voters, IReadOnlyList<ulong> Learners);

/// <summary>Why a membership request failed.</summary>
public enum MembershipChangeFailure
{
    /// <summary>This node is not the leader, or lost leadership while the change was in flight (it may still take
    /// effect: check with <see cref="GetMembers"/>); retry at <see cref="MembershipChangeFailed.LeaderHint"/>.</summary>
    NotLeader = 1,

    /// <summary>Another membership change is being made (or not yet committed); changes go one server at a time
    /// (thesis §4.1). Retry when it is done.</summary>
    ChangeInProgress = 2,

    /// <summary>The learner did not catch up within the rounds or time allowed (thesis §4.2.1). It stays a learner,
    /// which does not affect quorums; a later <see cref="AddMember"/> resumes, <see cref="RemoveMember"/> takes it out.</summary>
    CatchUpTimedOut = 3,

    /// <summary>The request can never succeed as given (removing the last voter, node id 0).</summary>
    Rejected = 4,

    /// <summary>The leader cannot take the change right now (still recovering, transferring leadership, or it has not
    /// committed an entry of its term yet), or its entry was replaced by a new leader's; retry shortly.</summary>
    Unavailable = 5,
}

/// <summary>A membership request failed; nothing more will be done for it.</summary>
/// <param name="NodeId">The node the request was about.</param>
/// <param name="Failure">The kind of failure, for the host to act on.</param>
/// <param name="LeaderHint">For <see cref="MembershipChangeFailure.NotLeader"/>, the believed leader, or 0.</param>
/// <param name="Reason">A sentence a person can act on.</param>
public sealed record MembershipChangeFailed(ulong NodeId, MembershipChangeFailure Failure, ulong LeaderHint, string Reason);
