namespace KvCluster.Raft.Actor;

/// <summary>
/// The replicated state machine a <see cref="RaftActor"/> drives (hashicorp/raft's <c>FSM</c>). Called only from the
/// RaftActor's mailbox turn, one call at a time, so implementations need no locking. A RaftActor creates its state
/// machine from <see cref="RaftActorSettings.StateMachineFactory"/> when it starts (and again on every restart),
/// restores the latest durable snapshot into it (<see cref="RestoreSnapshot"/>) and replays every committed entry after
/// it, so the state machine holds no durable state of its own. Snapshots (Raft §7, thesis ch. 5) are taken with
/// <see cref="CaptureSnapshot"/> and written by the RaftActor.
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

    /// <summary>
    /// Captures the state as applied so far, for a snapshot. Called on the RaftActor's turn right after an
    /// <see cref="Apply"/>, so it must be cheap (an immutable view, a copy-on-write handle): the capture is serialized
    /// later with <see cref="IStateMachineSnapshot.Serialize"/>, on another thread, while <see cref="Apply"/> goes on.
    /// </summary>
    /// <returns>A capture whose <see cref="IStateMachineSnapshot.AppliedIndex"/> is the index of the last entry it
    /// reflects (the last <see cref="Apply"/>'s index, or the index of the last restored snapshot when none followed).
    /// The RaftActor records the snapshot at its own applied index, which may be higher when the entries after it are
    /// ones the state machine never sees (leader no-ops, configuration changes).</returns>
    IStateMachineSnapshot CaptureSnapshot();

    /// <summary>
    /// Replaces the whole state with <paramref name="image"/>: bytes from <see cref="IStateMachineSnapshot.Serialize"/>
    /// (on this node or another) taken at log index <paramref name="index"/>. Called on the RaftActor's turn at
    /// recovery and when a follower installs a snapshot from its leader; the next <see cref="Apply"/> has index
    /// <paramref name="index"/> + 1. All or nothing: when it throws, the RaftActor does not use the state.
    /// </summary>
    /// <param name="index">The log index the image was taken at (its <see cref="IStateMachineSnapshot.AppliedIndex"/>).</param>
    /// <param name="image">The serialized image; not retained by the RaftActor after the call.</param>
    /// <exception cref="InvalidDataException">The image is corrupt or of an unknown format; the message names the problem.</exception>
    void RestoreSnapshot(long index, ReadOnlyMemory<byte> image);
}
