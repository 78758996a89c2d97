namespace KvCluster.Raft.Actor;

/// <summary>
/// An <see cref="IStateMachineSnapshot"/> over an image already serialized at capture time: for state machines small
/// enough (or simple enough) to serialize on the RaftActor's turn. <see cref="Serialize"/> returns the same array.
/// </summary>
/// <param name="AppliedIndex">The index of the last entry the image reflects.</param>
/// <param name="Image">The serialized state; must not be mutated afterwards.</param>
public sealed record ImageStateMachineSnapshot(long AppliedIndex, byte[] Image) : IStateMachineSnapshot
{
    /// <inheritdoc />
    public byte[] Serialize() => Image;
}
