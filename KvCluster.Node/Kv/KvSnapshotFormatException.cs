namespace KvCluster.Node.Kv;

/// <summary>
/// Thrown by <see cref="KvStateMachine.Restore"/> when the bytes are not a valid snapshot
/// (wrong magic, unknown format version, truncated, digest mismatch, impossible contents).
/// The store is unchanged when it is thrown; the caller should discard the snapshot and fetch
/// another one rather than apply entries on top of an unknown state.
/// </summary>
public sealed class KvSnapshotFormatException : Exception
{
    /// <summary>Creates the exception with a message that says what is wrong and where.</summary>
    public KvSnapshotFormatException(string message)
        : base(message)
    {
    }
}
