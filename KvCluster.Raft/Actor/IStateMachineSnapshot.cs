namespace KvCluster.Raft.Actor;

/// <summary>
/// A capture of an <see cref="IStateMachine"/>'s state at one applied index, returned by
/// <see cref="IStateMachine.CaptureSnapshot"/>. The RaftActor serializes it once, off its own turn, while the state
/// machine keeps applying entries: the capture must not see those later entries.
/// </summary>
public interface IStateMachineSnapshot
{
    /// <summary>The log index of the last entry the captured state reflects.</summary>
    long AppliedIndex { get; }

    /// <summary>
    /// Serializes the captured state into a new array the caller owns; the bytes are what
    /// <see cref="IStateMachine.RestoreSnapshot"/> accepts. May run on any thread; called at most once.
    /// </summary>
    /// <returns>The image.</returns>
    byte[] Serialize();
}
