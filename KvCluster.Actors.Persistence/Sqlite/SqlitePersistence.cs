using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Snapshot;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// Opens the SQLite journal and snapshot store. Each lives in its OWN database file (a snapshot
/// store refuses a journal file and vice versa), in WAL mode with <c>synchronous=FULL</c> unless
/// configured otherwise. A missing file is created with the current schema; an existing file is
/// checked (integrity, schema kind and version) and refused with a
/// <see cref="PersistenceStoreCorruptedException"/> or <see cref="PersistenceSchemaVersionException"/>
/// that names it, never recreated.
/// </summary>
public static class SqlitePersistence
{
    /// <summary>Opens (creating when missing) a journal database. Blocks while the file is checked.</summary>
    /// <param name="path">The database file; its directory is created when missing.</param>
    /// <param name="options">Durability and limits; defaults when <c>null</c>.</param>
    /// <returns>The journal; dispose it to close the file.</returns>
    /// <exception cref="PersistenceStoreCorruptedException">The file is corrupted, truncated or not an AkkaKv journal.</exception>
    /// <exception cref="PersistenceSchemaVersionException">The file was written by a newer AkkaKv.</exception>
    /// <exception cref="PersistenceStoreException">The file is a snapshot store, or cannot be opened.</exception>
    public static IJournal OpenJournal(string path, SqliteStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new SqliteStoreOptions();
        options.Validate();
        return SqliteJournal.Open(path, options);
    }

    /// <summary>Opens (creating when missing) a snapshot store database. Blocks while the file is checked.</summary>
    /// <param name="path">The database file, distinct from the journal's; its directory is created when missing.</param>
    /// <param name="options">Durability settings; defaults when <c>null</c>.</param>
    /// <returns>The snapshot store; dispose it to close the file.</returns>
    /// <exception cref="PersistenceStoreCorruptedException">The file is corrupted, truncated or not an AkkaKv snapshot store.</exception>
    /// <exception cref="PersistenceSchemaVersionException">The file was written by a newer AkkaKv.</exception>
    /// <exception cref="PersistenceStoreException">The file is a journal, or cannot be opened.</exception>
    public static ISnapshotStore OpenSnapshotStore(string path, SqliteStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new SqliteStoreOptions();
        options.Validate();
        return SqliteSnapshotStore.Open(path, options);
    }

    /// <summary>The logger for a store, or a null logger.</summary>
    internal static ILogger CreateLogger(SqliteStoreOptions options, string category) =>
        options.LoggerFactory?.CreateLogger(category) ?? NullLogger.Instance;
}
