using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Actors.Persistence.InMemory;

/// <summary>A snapshot store in process memory with the SQLite store's semantics; data is copied on save.</summary>
internal sealed class InMemorySnapshotStore(InMemoryStore store) : ISnapshotStore
{
    /// <summary>1 once disposed.</summary>
    private int _disposed;

    /// <inheritdoc />
    public Task SaveAsync(SnapshotMetadata metadata, string manifest, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentException.ThrowIfNullOrEmpty(metadata.PersistenceId);
        ArgumentNullException.ThrowIfNull(manifest);
        ThrowIfDisposed();
        // Stored with tick precision in UTC, exactly as the SQLite store round-trips it.
        var stored = new SelectedSnapshot(
            metadata with { Timestamp = new DateTimeOffset(metadata.Timestamp.UtcTicks, TimeSpan.Zero) },
            manifest,
            data.ToArray());
        lock (store.Snapshots)
        {
            if (!store.Snapshots.TryGetValue(metadata.PersistenceId, out var list))
            {
                list = [];
                store.Snapshots.Add(metadata.PersistenceId, list);
            }
            list.RemoveAll(s => s.Metadata.SequenceNr == metadata.SequenceNr);
            list.Add(stored);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        ThrowIfDisposed();
        lock (store.Snapshots)
        {
            var selected = store.Snapshots.GetValueOrDefault(persistenceId)?
                .Where(s => criteria.IsMatch(s.Metadata))
                .OrderByDescending(s => s.Metadata.SequenceNr)
                .ThenByDescending(s => s.Metadata.Timestamp)
                .FirstOrDefault();
            return Task.FromResult(selected);
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(SnapshotMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ThrowIfDisposed();
        lock (store.Snapshots)
        {
            store.Snapshots.GetValueOrDefault(metadata.PersistenceId)?.RemoveAll(s => s.Metadata.SequenceNr == metadata.SequenceNr);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        ThrowIfDisposed();
        lock (store.Snapshots)
        {
            store.Snapshots.GetValueOrDefault(persistenceId)?.RemoveAll(s => criteria.IsMatch(s.Metadata));
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _disposed, 1);
        return ValueTask.CompletedTask;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
