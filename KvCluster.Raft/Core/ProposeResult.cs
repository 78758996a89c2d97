namespace KvCluster.Raft.Core;

/// <summary>How a request to the core (proposal, read, leadership transfer) was received.</summary>
public enum ProposeStatus
{
    /// <summary>The request was accepted; its outcome arrives through later <see cref="Ready"/> batches.</summary>
    Accepted = 0,

    /// <summary>This node is not the leader; retry at <see cref="ProposeResult.LeaderHint"/> when it is non-zero.</summary>
    NotLeader = 1,

    /// <summary>The leader refused it for now (see <see cref="ProposeResult.Reason"/>); retry later.</summary>
    Dropped = 2,

    /// <summary>The request can never succeed as given (see <see cref="ProposeResult.Reason"/>), for instance a
    /// configuration change that adds an existing member; do not retry it unchanged.</summary>
    Rejected = 3,
}

/// <summary>
/// The outcome of <see cref="RaftNode.Propose(ReadOnlyMemory{byte})"/>, <see cref="RaftNode.ProposeConfigChange"/>,
/// <see cref="RaftNode.ReadIndex"/> or <see cref="RaftNode.TransferLeadership"/>, returned as a value because every outcome is expected.
/// An accepted proposal is identified by (<see cref="Index"/>, <see cref="Term"/>): it succeeded exactly when the
/// entry applied at <see cref="Index"/> has that term; if another term is applied there, it was lost and may be retried.
/// </summary>
/// <param name="Status">Accepted, NotLeader or Dropped.</param>
/// <param name="Index">For an accepted proposal, the log index of its (last) entry; otherwise 0.</param>
/// <param name="Term">For an accepted proposal, the term of its entries; otherwise 0.</param>
/// <param name="LeaderHint">For NotLeader, the node believed to lead, or 0 when unknown.</param>
/// <param name="Reason">For NotLeader, Dropped and Rejected, a sentence a person can act on; otherwise empty.</param>
public readonly record struct ProposeResult(ProposeStatus Status, long Index, long Term, ulong LeaderHint, string Reason)
{
    /// <summary>Creates an accepted result for entries ending at <paramref name="index"/> in <paramref name="term"/>.</summary>
    /// <param name="index">Index of the last entry appended.</param>
    /// <param name="term">The leader's term.</param>
    /// <returns>The accepted result.</returns>
    public static ProposeResult Accepted(long index, long term) => new(ProposeStatus.Accepted, index, term, 0, string.Empty);

    /// <summary>Creates a NotLeader result.</summary>
    /// <param name="leaderHint">The believed leader, or 0.</param>
    /// <returns>The NotLeader result.</returns>
    public static ProposeResult NotLeader(ulong leaderHint) => new(
        ProposeStatus.NotLeader, 0, 0, leaderHint,
        leaderHint == 0 ? "this node is not the leader and no leader is known; retry later" : $"this node is not the leader; retry at node {leaderHint}");

    /// <summary>Creates a Dropped result.</summary>
    /// <param name="reason">Why the leader refused the request.</param>
    /// <returns>The Dropped result.</returns>
    public static ProposeResult Dropped(string reason) => new(ProposeStatus.Dropped, 0, 0, 0, reason);

    /// <summary>Creates a Rejected result.</summary>
    /// <param name="reason">Why the request can never succeed as given.</param>
    /// <returns>The Rejected result.</returns>
    public static ProposeResult Rejected(string reason) => new(ProposeStatus.Rejected, 0, 0, 0, reason);
}
