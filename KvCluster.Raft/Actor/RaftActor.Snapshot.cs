using KvCluster.Raft.Core;

namespace KvCluster.Raft.Actor;

public sealed partial class RaftActor
{
    /// <summary>The latest durable snapshot of this node: index, term, image size and when it was taken; index 0 = none.</summary>
    private (long Index, long Term, long Bytes, DateTime? TakenAt) _snapshot = (0, 0, 0, null);
}
