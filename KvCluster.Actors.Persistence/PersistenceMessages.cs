using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Actors.Persistence;

/// <summary>Handed to a recover handler first when recovery starts from a snapshot.</summary>
/// <param name="Metadata">Which snapshot it is.</param>
/// <param name="Snapshot">The deserialized snapshot.</param>
public sealed record SnapshotOffer(SnapshotMetadata Metadata, object Snapshot);

/// <summary>Handed to a recover handler last, after the snapshot and every replayed event; commands follow.</summary>
public sealed class RecoveryCompleted
{
    /// <summary>The single instance.</summary>
    public static RecoveryCompleted Instance { get; } = new();

    private RecoveryCompleted()
    {
    }
}

/// <summary>Which snapshot and which events recovery uses.</summary>
/// <param name="FromSnapshot">Selects the snapshot to start from; <see cref="SnapshotSelectionCriteria.None"/> replays every event.</param>
/// <param name="ToSequenceNr">The last event to replay.</param>
/// <param name="ReplayMax">The most events to replay.</param>
public sealed record Recovery(SnapshotSelectionCriteria FromSnapshot, long ToSequenceNr = long.MaxValue, long ReplayMax = long.MaxValue)
{
    /// <summary>From the latest snapshot, then every later event.</summary>
    public static Recovery Default { get; } = new(SnapshotSelectionCriteria.Latest);
}

/// <summary>Sent to the actor (as a command) when <c>SaveSnapshot</c> stored the snapshot.</summary>
/// <param name="Metadata">The stored snapshot.</param>
public sealed record SaveSnapshotSuccess(SnapshotMetadata Metadata);

/// <summary>Sent to the actor (as a command) when <c>SaveSnapshot</c> failed; the actor goes on.</summary>
/// <param name="Metadata">The snapshot that was not stored.</param>
/// <param name="Cause">Why.</param>
public sealed record SaveSnapshotFailure(SnapshotMetadata Metadata, Exception Cause);

/// <summary>Sent to the actor (as a command) when <c>DeleteMessages</c> deleted the events.</summary>
/// <param name="ToSequenceNr">The highest sequence number deleted.</param>
public sealed record DeleteMessagesSuccess(long ToSequenceNr);

/// <summary>Sent to the actor (as a command) when <c>DeleteMessages</c> failed.</summary>
/// <param name="Cause">Why.</param>
/// <param name="ToSequenceNr">The requested highest sequence number.</param>
public sealed record DeleteMessagesFailure(Exception Cause, long ToSequenceNr);

/// <summary>Sent to the actor (as a command) when <c>DeleteSnapshots</c> deleted the matching snapshots.</summary>
/// <param name="Criteria">The criteria used.</param>
public sealed record DeleteSnapshotsSuccess(SnapshotSelectionCriteria Criteria);

/// <summary>Sent to the actor (as a command) when <c>DeleteSnapshots</c> failed.</summary>
/// <param name="Criteria">The criteria used.</param>
/// <param name="Cause">Why.</param>
public sealed record DeleteSnapshotsFailure(SnapshotSelectionCriteria Criteria, Exception Cause);
