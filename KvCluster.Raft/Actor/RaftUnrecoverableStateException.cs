namespace KvCluster.Raft.Actor;

/// <summary>
/// The node's durable Raft state cannot be rebuilt: its journal was compacted up to some index, and no valid snapshot
/// in the snapshot store covers that index (the newest are corrupt, truncated or missing). The RaftActor stops rather
/// than serve a state it cannot vouch for; the node host maps this to exit code 3. Recover by restoring the data
/// directory from a backup, or by removing the member and adding it back empty so it receives a snapshot from the leader.
/// </summary>
public sealed class RaftUnrecoverableStateException : Exception
{
    /// <summary>Creates the exception with a message that names the stream, the gap and every snapshot refused.</summary>
    /// <param name="message">What is missing and why.</param>
    public RaftUnrecoverableStateException(string message)
        : base(message)
    {
    }
}
