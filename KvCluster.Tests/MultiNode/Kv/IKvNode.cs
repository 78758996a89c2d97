using KvCluster.Testing.MultiNode;
using KvCluster.Client.Protocol;
using KvCluster.Raft.Actor;

namespace KvCluster.Tests.MultiNode.Kv;

/// <summary>
/// What the KV cluster specs need from a node, beyond <see cref="IMultiNodeHandle"/>: client operations and
/// inspection. <see cref="RaftKvNode"/> implements it on the parts that exist (RaftActor + KvStateMachine + SQLite
/// journal); a node-host implementation (a factory starting the real host, and this interface over its client
/// endpoint) runs every spec unchanged. Every method may be called from any thread while the node runs; after the node
/// is down they fail fast with <see cref="KvReplyKind.Rejected"/> (or null) without touching the network.
/// </summary>
internal interface IKvNode : IMultiNodeHandle
{
    /// <summary>The node's Raft id (its 1-based role index, <see cref="MultiNodeMember.Index"/>).</summary>
    ulong NodeId { get; }

    /// <summary>Proposes <paramref name="command"/> to this node's Raft log and waits (at most <paramref name="timeout"/>)
    /// until it is committed and applied here, or refused.</summary>
    Task<KvReply> ProposeAsync(KvCommand command, TimeSpan timeout);

    /// <summary>A linearizable read of one key through this node (ReadIndex, thesis §6.4).</summary>
    Task<KvReply> ReadAsync(GetRequest get, TimeSpan timeout);

    /// <summary>A serializable (local, possibly stale) read of this node's applied state; null when the node is down.</summary>
    Task<KvResult?> LocalGetAsync(string key);

    /// <summary>The node's Raft status; null when the node is down or did not answer in time.</summary>
    Task<RaftStatus?> StatusAsync(TimeSpan timeout);
}

/// <summary>How a request ended, as far as the client can tell.</summary>
internal enum KvReplyKind
{
    /// <summary>Committed and applied (or, for a read, answered); <see cref="KvReply.Result"/> holds the answer.</summary>
    Applied,

    /// <summary>This node does not lead; nothing was proposed. <see cref="KvReply.LeaderHint"/> may name the leader.</summary>
    NotLeader,

    /// <summary>Surely not applied (the node is down, or still recovering); retry elsewhere.</summary>
    Rejected,

    /// <summary>Unknown: timed out, or dropped after it was accepted; it may still be applied.</summary>
    Unknown,
}

/// <summary>The outcome of one request to one node.</summary>
/// <param name="Kind">How it ended.</param>
/// <param name="Result">The state machine's answer when <see cref="KvReplyKind.Applied"/>.</param>
/// <param name="Index">The log index it was applied at (writes) or read at (reads).</param>
/// <param name="LeaderHint">The leader this node knows of, for <see cref="KvReplyKind.NotLeader"/>; 0 when none.</param>
/// <param name="Reason">Why it was not applied, in words.</param>
internal sealed record KvReply(KvReplyKind Kind, KvResult? Result = null, long Index = 0, ulong LeaderHint = 0, string Reason = "")
{
    public static KvReply Down(RoleName role) => new(KvReplyKind.Rejected, Reason: $"node {role} is down");
}
