namespace KvCluster.Raft.Actor;

/// <summary>
/// The replicated state machine a <see cref="RaftActor"/> drives (hashicorp/raft's <c>FSM</c>). Called only from the
/// RaftActor's mailbox turn, one call at a time, so implementations need no locking. A RaftActor creates its state
/// machine from <see cref="RaftActorSettings.StateMachineFactory"/> when it starts (and again on every restart) and
/// replays every committed entry into it from index 1, so the state machine holds no durable state of its own.
/// </summary>
public interface IStateMachine
{
    /// <summary>
    /// Applies one committed command. Called exactly once per committed normal entry, in index order, on every node;
    /// it must be deterministic (same commands in the same order give the same state and results everywhere).
    /// </summary>
    /// <param name="index">The entry's log index.</param>
    /// <param name="command">The command bytes as proposed; must not be mutated.</param>
    /// <returns>The result the proposer receives in <see cref="ProposeApplied"/> (only on the node it proposed to).</returns>
    /// <remarks>An exception is a broken invariant: the RaftActor fails and its supervisor decides what happens.</remarks>
    ReadOnlyMemory<byte> Apply(long index, ReadOnlyMemory<byte> command);

    /// <summary>
    /// Answers a read-only query against the current state; must not change the state. The RaftActor calls it for a
    /// <see cref="ReadIndex"/> request once the state machine has applied everything committed before the request
    /// arrived, which makes the answer linearizable (thesis §6.4).
    /// </summary>
    /// <param name="query">The query bytes.</param>
    /// <returns>The answer sent back in <see cref="ReadIndexReply"/>.</returns>
    ReadOnlyMemory<byte> Query(ReadOnlyMemory<byte> query);
}
