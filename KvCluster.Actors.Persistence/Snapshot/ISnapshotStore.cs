namespace KvCluster.Actors.Persistence.Snapshot;

/// <summary>
/// Stores snapshots of entity state (the plugin contract of Akka.Persistence's SnapshotStore).
/// Implementations are thread-safe. Every implementation passes the same conformance spec
/// (<c>KvCluster.Tests.Persistence.SnapshotStoreSpec</c>).
/// </summary>
public interface ISnapshotStore : IAsyncDisposable
{
    /// <summary>
    /// Stores a snapshot durably, replacing one with the same persistence id and sequence number.
    /// </summary>
    /// <param name="metadata">Which snapshot it is.</param>
    /// <param name="manifest">The serializer's type hint; may be empty.</param>
    /// <param name="data">The serialized snapshot; the caller keeps it unchanged until the task completes.</param>
    /// <returns>A task that completes when the snapshot is durable; faults with a <see cref="PersistenceStoreException"/> when storage failed.</returns>
    Task SaveAsync(SnapshotMetadata metadata, string manifest, ReadOnlyMemory<byte> data);

    /// <summary>
    /// Loads the matching snapshot with the highest sequence number (the latest timestamp among equals).
    /// </summary>
    /// <param name="persistenceId">The entity.</param>
    /// <param name="criteria">Which snapshots may be selected.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The snapshot, or <c>null</c> when none matches.</returns>
    Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken = default);

    /// <summary>Deletes the snapshot with the persistence id and sequence number of <paramref name="metadata"/>, if any.</summary>
    /// <param name="metadata">The snapshot to delete.</param>
    /// <returns>A task that completes when the deletion is durable.</returns>
    Task DeleteAsync(SnapshotMetadata metadata);

    /// <summary>Deletes every snapshot of <paramref name="persistenceId"/> that matches <paramref name="criteria"/>.</summary>
    /// <param name="persistenceId">The entity.</param>
    /// <param name="criteria">Which snapshots to delete.</param>
    /// <returns>A task that completes when the deletion is durable.</returns>
    Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria);
}
