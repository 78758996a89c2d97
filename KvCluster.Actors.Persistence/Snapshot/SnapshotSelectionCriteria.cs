namespace KvCluster.Actors.Persistence.Snapshot;

/// <summary>
/// Selects snapshots by sequence-number and timestamp bounds, all inclusive. A snapshot matches
/// when MinSequenceNr ≤ SequenceNr ≤ MaxSequenceNr and MinTimestamp ≤ Timestamp ≤ MaxTimestamp.
/// </summary>
/// <param name="MaxSequenceNr">The highest sequence number selected.</param>
/// <param name="MaxTimestamp">The latest timestamp selected.</param>
/// <param name="MinSequenceNr">The lowest sequence number selected.</param>
/// <param name="MinTimestamp">The earliest timestamp selected.</param>
public sealed record SnapshotSelectionCriteria(
    long MaxSequenceNr,
    DateTimeOffset MaxTimestamp,
    long MinSequenceNr = 0,
    DateTimeOffset MinTimestamp = default)
{
    /// <summary>Selects every snapshot (loading picks the latest).</summary>
    public static SnapshotSelectionCriteria Latest { get; } = new(long.MaxValue, DateTimeOffset.MaxValue);

    /// <summary>Selects no snapshot (recovery then replays every event).</summary>
    public static SnapshotSelectionCriteria None { get; } = new(0L, DateTimeOffset.MinValue);

    /// <summary>Selects snapshots up to and including <paramref name="maxSequenceNr"/>.</summary>
    /// <param name="maxSequenceNr">The highest sequence number selected.</param>
    /// <returns>The criteria.</returns>
    public static SnapshotSelectionCriteria UpTo(long maxSequenceNr) => new(maxSequenceNr, DateTimeOffset.MaxValue);

    /// <summary>Whether <paramref name="metadata"/> lies within these bounds.</summary>
    /// <param name="metadata">The snapshot to test.</param>
    /// <returns><c>true</c> when it matches.</returns>
    public bool IsMatch(SnapshotMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.SequenceNr >= MinSequenceNr && metadata.SequenceNr <= MaxSequenceNr
            && metadata.Timestamp >= MinTimestamp && metadata.Timestamp <= MaxTimestamp;
    }
}
