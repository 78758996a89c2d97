namespace KvCluster.Node.Kv;

/// <summary>
/// Thrown by <see cref="KvStateMachine.Restore"/> when the bytes are not a valid snapshot (wrong magic, unknown format
/// version or section type, truncated, digest mismatch, impossible contents). The store is unchanged when it is thrown;
/// the caller should discard the snapshot and fetch another one rather than apply entries on top of an unknown state.
/// (<see cref="InvalidDataException"/> is sealed: <see cref="KvRaftStateMachine"/> wraps this one in it, as
/// <c>IStateMachine.RestoreSnapshot</c> promises.)
/// </summary>
public sealed class KvSnapshotFormatException : Exception
{
    /// <summary>Creates the exception with a message that says what is wrong and where.</summary>
    public KvSnapshotFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the lower-level error it came from.</summary>
    public KvSnapshotFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
