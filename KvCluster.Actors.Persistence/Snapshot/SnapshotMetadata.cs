namespace KvCluster.Actors.Persistence.Snapshot;

/// <summary>Identifies a snapshot: whose it is, the sequence number it covers, and when it was taken.</summary>
/// <param name="PersistenceId">The entity the snapshot belongs to.</param>
/// <param name="SequenceNr">The sequence number of the last event the snapshot includes.</param>
/// <param name="Timestamp">When the snapshot was taken (stored with tick precision, in UTC).</param>
public sealed record SnapshotMetadata(string PersistenceId, long SequenceNr, DateTimeOffset Timestamp);
