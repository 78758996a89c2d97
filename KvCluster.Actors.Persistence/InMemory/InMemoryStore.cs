using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Actors.Persistence.InMemory;

/// <summary>
/// Process memory that in-memory journals and snapshot stores keep their data in, for tests. The
/// data outlives the journal or store objects opened on it (dispose one, open another on the same
/// store: the data is still there, as with a file), and dies with this object. In-memory stores
/// pass the same conformance specs as the SQLite ones, so they behave the same except durability.
/// </summary>
public sealed class InMemoryStore
{
    /// <summary>Events by persistence id; each stream locks itself.</summary>
    internal Dictionary<string, InMemoryJournal.Stream> Streams { get; } = new(StringComparer.Ordinal);

    /// <summary>Snapshots by persistence id, guarded by locking the dictionary.</summary>
    internal Dictionary<string, List<SelectedSnapshot>> Snapshots { get; } = new(StringComparer.Ordinal);

    /// <summary>Opens a journal on this store's memory.</summary>
    /// <param name="options">Limits, enforced exactly as the SQLite journal enforces them; defaults when <c>null</c>.</param>
    /// <returns>The journal.</returns>
    public IJournal OpenJournal(JournalOptions? options = null)
    {
        options ??= new JournalOptions();
        options.Validate();
        return new InMemoryJournal(this, options);
    }

    /// <summary>Opens a snapshot store on this store's memory.</summary>
    /// <returns>The snapshot store.</returns>
    public ISnapshotStore OpenSnapshotStore() => new InMemorySnapshotStore(this);
}
