using KvCluster.Actors.Persistence.Snapshot;
using Microsoft.Data.Sqlite;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// The SQLite snapshot store, in its own database file. Snapshots are rare and large, so there is
/// no group commit: writes take a lock on the single writer connection; loads use pooled readers.
/// </summary>
internal sealed class SqliteSnapshotStore : ISnapshotStore
{
    /// <summary>The kind recorded in the schema_version table.</summary>
    internal const string Kind = "snapshot";

    /// <summary>The schema version this build writes and understands.</summary>
    internal const int SchemaVersion = 1;

    /// <summary>Version 1: one row per (persistence id, sequence number); timestamps as UTC ticks.</summary>
    internal const string SchemaSql =
        "CREATE TABLE snapshot (persistence_id TEXT NOT NULL, sequence_nr INTEGER NOT NULL, timestamp INTEGER NOT NULL, " +
        "manifest TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (persistence_id, sequence_nr));";

    private const string Criteria =
        "persistence_id = $pid AND sequence_nr >= $minSeq AND sequence_nr <= $maxSeq AND timestamp >= $minTs AND timestamp <= $maxTs";

    /// <summary>The full path of the database file; named in every error.</summary>
    private readonly string _path;

    /// <summary>The only connection that writes; guarded by <see cref="_writeLock"/>.</summary>
    private readonly SqliteConnection _writer;

    /// <summary>Serializes writes on <see cref="_writer"/>.</summary>
    private readonly Lock _writeLock = new();

    /// <summary>Opens pooled read connections.</summary>
    private readonly string _readerConnectionString;

    /// <summary>1 once disposed.</summary>
    private int _disposed;

    private SqliteSnapshotStore(string path, SqliteConnection writer, string readerConnectionString)
    {
        _path = path;
        _writer = writer;
        _readerConnectionString = readerConnectionString;
    }

    /// <summary>Opens (creating when missing) the snapshot database at <paramref name="path"/>.</summary>
    internal static SqliteSnapshotStore Open(string path, SqliteStoreOptions options)
    {
        var logger = SqlitePersistence.CreateLogger(options, "KvCluster.Actors.Persistence.Sqlite.SqliteSnapshotStore");
        var fullPath = Path.GetFullPath(path);
        var (writer, readers) = SqliteDatabase.Open(fullPath, Kind, SchemaVersion, SchemaSql, [], options, logger);
        return new SqliteSnapshotStore(fullPath, writer, readers);
    }

    /// <inheritdoc />
    public Task SaveAsync(SnapshotMetadata metadata, string manifest, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentException.ThrowIfNullOrEmpty(metadata.PersistenceId);
        ArgumentNullException.ThrowIfNull(manifest);
        return Write(
            $"saving snapshot {metadata.SequenceNr} of '{metadata.PersistenceId}'",
            command =>
            {
                command.CommandText =
                    "INSERT OR REPLACE INTO snapshot (persistence_id, sequence_nr, timestamp, manifest, payload) VALUES ($pid, $seq, $ts, $manifest, $payload);";
                command.Parameters.AddWithValue("$pid", metadata.PersistenceId);
                command.Parameters.AddWithValue("$seq", metadata.SequenceNr);
                command.Parameters.AddWithValue("$ts", metadata.Timestamp.UtcTicks);
                command.Parameters.AddWithValue("$manifest", manifest);
                command.Parameters.Add("$payload", SqliteType.Blob).Value = data.ToArray();
            });
    }

    /// <inheritdoc />
    public Task DeleteAsync(SnapshotMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return Write(
            $"deleting snapshot {metadata.SequenceNr} of '{metadata.PersistenceId}'",
            command =>
            {
                command.CommandText = "DELETE FROM snapshot WHERE persistence_id = $pid AND sequence_nr = $seq;";
                command.Parameters.AddWithValue("$pid", metadata.PersistenceId);
                command.Parameters.AddWithValue("$seq", metadata.SequenceNr);
            });
    }

    /// <inheritdoc />
    public Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        return Write(
            $"deleting snapshots of '{persistenceId}'",
            command =>
            {
                command.CommandText = "DELETE FROM snapshot WHERE " + Criteria + ";";
                AddCriteria(command, persistenceId, criteria);
            });
    }

    /// <inheritdoc />
    public Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Task.Run(
            () =>
            {
                try
                {
                    using var connection = new SqliteConnection(_readerConnectionString);
                    connection.Open();
                    using var command = connection.CreateCommand();
                    command.CommandText =
                        "SELECT sequence_nr, timestamp, manifest, payload FROM snapshot WHERE " + Criteria +
                        " ORDER BY sequence_nr DESC, timestamp DESC LIMIT 1;";
                    AddCriteria(command, persistenceId, criteria);
                    using var reader = command.ExecuteReader();
                    if (!reader.Read())
                    {
                        return null;
                    }
                    var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero));
                    return new SelectedSnapshot(metadata, reader.GetString(2), (byte[])reader.GetValue(3));
                }
                catch (SqliteException ex)
                {
                    throw SqliteDatabase.Wrap(_path, Kind, $"loading a snapshot of '{persistenceId}'", ex);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            lock (_writeLock)
            {
                SqliteDatabase.Close(_writer);
            }
            using var connection = new SqliteConnection(_readerConnectionString);
            SqliteConnection.ClearPool(connection);
        }
        return ValueTask.CompletedTask;
    }

    private static void AddCriteria(SqliteCommand command, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        command.Parameters.AddWithValue("$pid", persistenceId);
        command.Parameters.AddWithValue("$minSeq", criteria.MinSequenceNr);
        command.Parameters.AddWithValue("$maxSeq", criteria.MaxSequenceNr);
        command.Parameters.AddWithValue("$minTs", criteria.MinTimestamp.UtcTicks);
        command.Parameters.AddWithValue("$maxTs", criteria.MaxTimestamp.UtcTicks);
    }

    private Task Write(string operation, Action<SqliteCommand> prepare)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Task.Run(() =>
        {
            lock (_writeLock)
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
                try
                {
                    using var command = _writer.CreateCommand();
                    prepare(command);
                    command.ExecuteNonQuery();
                }
                catch (SqliteException ex)
                {
                    throw SqliteDatabase.Wrap(_path, Kind, operation, ex);
                }
            }
        });
    }
}
