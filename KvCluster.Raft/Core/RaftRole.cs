namespace KvCluster.Raft.Core;

/// <summary>The role a node plays (Raft §5.1, plus the PreVote phase of thesis §9.6).</summary>
public enum RaftRole
{
    /// <summary>Passive: answers leaders and candidates; starts an election when its election timeout elapses.</summary>
    Follower = 0,

    /// <summary>Asks whether it could win an election without changing any term (thesis §9.6).</summary>
    PreCandidate = 1,

    /// <summary>Has incremented its term and voted for itself; collects votes (Raft §5.2).</summary>
    Candidate = 2,

    /// <summary>Accepts proposals and replicates the log (Raft §5.3).</summary>
    Leader = 3,
}
