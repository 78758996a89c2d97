using KvCluster.Actors.Persistence.InMemory;
using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Serialization;
using KvCluster.Actors.Persistence.Snapshot;
using KvCluster.Actors.Persistence.Sqlite;

namespace KvCluster.Actors.Persistence;

/// <summary>
/// Which journal and snapshot store an actor system's persistent actors use, and how events are
/// serialized. Given once per system to <see cref="Persistence.Configure"/>.
/// </summary>
/// <param name="JournalFactory">Opens the journal; called once, when the extension is created.</param>
/// <param name="SnapshotStoreFactory">Opens the snapshot store; called once, when the extension is created.</param>
public sealed record PersistenceSettings(Func<IJournal> JournalFactory, Func<ISnapshotStore> SnapshotStoreFactory)
{
    /// <summary>The journal file name inside a SQLite data directory.</summary>
    public const string JournalFileName = "journal.db";

    /// <summary>The snapshot store file name inside a SQLite data directory.</summary>
    public const string SnapshotFileName = "snapshots.db";

    /// <summary>Serializes events and snapshots; <see cref="JsonEventSerializer"/> unless set.</summary>
    public IEventSerializer Serializer { get; init; } = new JsonEventSerializer();

    /// <summary>
    /// SQLite persistence in <paramref name="dataDirectory"/>: the journal in <see cref="JournalFileName"/>
    /// and snapshots in <see cref="SnapshotFileName"/> (separate files), created when missing.
    /// </summary>
    /// <param name="dataDirectory">The directory holding both files.</param>
    /// <param name="options">Durability and limits for both; defaults (synchronous=FULL) when null.</param>
    /// <returns>The settings.</returns>
    public static PersistenceSettings Sqlite(string dataDirectory, SqliteStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        return new PersistenceSettings(
            () => SqlitePersistence.OpenJournal(Path.Combine(dataDirectory, JournalFileName), options),
            () => SqlitePersistence.OpenSnapshotStore(Path.Combine(dataDirectory, SnapshotFileName), options));
    }

    /// <summary>In-memory persistence on <paramref name="store"/> (a new, private store when null); for tests.</summary>
    /// <param name="store">The memory to use; share one between systems to simulate a restart.</param>
    /// <param name="options">Journal limits.</param>
    /// <returns>The settings.</returns>
    public static PersistenceSettings InMemory(InMemoryStore? store = null, JournalOptions? options = null)
    {
        store ??= new InMemoryStore();
        return new PersistenceSettings(() => store.OpenJournal(options), store.OpenSnapshotStore);
    }
}
