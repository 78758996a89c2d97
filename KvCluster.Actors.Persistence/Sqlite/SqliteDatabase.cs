using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Persistence.Sqlite;

/// <summary>
/// Opens one AkkaKv database file: creates it atomically on first use, refuses a corrupted,
/// truncated, foreign or newer file with an error that names it, applies the pragmas and upgrades
/// a file of an older schema version in one transaction.
/// </summary>
internal static class SqliteDatabase
{
    /// <summary>SQLITE_CORRUPT: the database disk image is malformed.</summary>
    internal const int SqliteCorrupt = 11;

    /// <summary>SQLITE_NOTADB: the file is not a database.</summary>
    internal const int SqliteNotADb = 26;

    /// <summary>SQLITE_CONSTRAINT: a row broke a constraint (here: a sequence number already used).</summary>
    internal const int SqliteConstraint = 19;

    /// <summary>
    /// Opens <paramref name="path"/> as a database of <paramref name="kind"/>, creating it with
    /// <paramref name="schemaSql"/> when the file does not exist.
    /// </summary>
    /// <param name="path">The database file.</param>
    /// <param name="kind">The component recorded in the schema_version table ("journal", "snapshot").</param>
    /// <param name="schemaVersion">The version this build writes; a newer file is refused.</param>
    /// <param name="schemaSql">Creates the tables of <paramref name="schemaVersion"/> in a new file.</param>
    /// <param name="upgrades">
    /// <c>upgrades[v - 1]</c> is the SQL that turns schema version <c>v</c> into <c>v + 1</c>; a file of
    /// an older version runs the ones it needs, and the version update, in ONE transaction (a crash
    /// leaves the old version intact). Empty when <paramref name="schemaVersion"/> is 1.
    /// </param>
    /// <param name="options">Pragmas and integrity check.</param>
    /// <param name="logger">Where warnings and the upgrade are logged.</param>
    /// <returns>The open writer connection and the connection string for readers.</returns>
    internal static (SqliteConnection Writer, string ReaderConnectionString) Open(
        string path, string kind, int schemaVersion, string schemaSql, IReadOnlyList<string> upgrades, SqliteStoreOptions options, ILogger logger)
    {
        if (upgrades.Count != schemaVersion - 1)
        {
            throw new ArgumentException($"Schema version {schemaVersion} needs {schemaVersion - 1} upgrades, not {upgrades.Count}.", nameof(upgrades));
        }
        path = Path.GetFullPath(path);
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        };

        if (!File.Exists(path))
        {
            if (File.Exists(path + "-wal"))
            {
                throw new PersistenceStoreCorruptedException(
                    path,
                    $"The {kind} database '{path}' is missing but its write-ahead log '{path}-wal' exists; the database file was deleted or moved. " +
                    "Restore it, or delete the -wal and -shm files to start empty on purpose.");
            }
            Create(path, kind, schemaVersion, schemaSql);
        }
        else if (new FileInfo(path).Length == 0)
        {
            // We create files atomically (see Create), so an empty file is never one of ours in progress.
            throw new PersistenceStoreCorruptedException(
                path,
                $"The {kind} database '{path}' is empty (0 bytes): it was truncated or was not created by AkkaKv. It was left untouched.");
        }

        var writer = new SqliteConnection(builder.ConnectionString);
        try
        {
            writer.Open();
            // Only read until the file is known to be ours: a refused file must be left exactly as found.
            if (options.QuickCheckOnOpen)
            {
                QuickCheck(writer, path, kind);
            }
            var version = CheckSchema(writer, path, kind, schemaVersion);
            ApplyPragmas(writer, path, options, logger);
            if (version < schemaVersion)
            {
                Upgrade(writer, path, kind, version, schemaVersion, upgrades, logger);
            }
            return (writer, builder.ConnectionString);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteCorrupt or SqliteNotADb)
        {
            Close(writer);
            throw new PersistenceStoreCorruptedException(
                path,
                $"The {kind} database '{path}' is corrupted or truncated ({ex.Message}). It was left untouched; restore it from a backup or another replica.",
                ex);
        }
        catch (SqliteException ex)
        {
            Close(writer);
            throw new PersistenceStoreException(path, $"Opening the {kind} database '{path}' failed: {ex.Message}", ex);
        }
        catch
        {
            Close(writer);
            throw;
        }
    }

    /// <summary>Closes a connection and drops its pool so the file handle is released.</summary>
    internal static void Close(SqliteConnection connection)
    {
        SqliteConnection.ClearPool(connection);
        connection.Dispose();
    }

    /// <summary>Wraps a SQLite error raised while using an open database.</summary>
    internal static PersistenceStoreException Wrap(string path, string kind, string operation, Exception ex) =>
        ex is SqliteException { SqliteErrorCode: SqliteCorrupt or SqliteNotADb }
            ? new PersistenceStoreCorruptedException(path, $"The {kind} database '{path}' is corrupted ({ex.Message}) while {operation}.", ex)
            : new PersistenceStoreException(path, $"The {kind} database '{path}' failed while {operation}: {ex.Message}", ex);

    /// <summary>
    /// Creates the file under a temporary name and renames it into place once the schema is
    /// committed, so a crash during creation never leaves a half-made file under the real name.
    /// </summary>
    private static void Create(string path, string kind, int schemaVersion, string schemaSql)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var temp = path + ".creating";
        foreach (var leftover in new[] { temp, temp + "-wal", temp + "-shm", temp + "-journal" })
        {
            File.Delete(leftover);
        }
        var builder = new SqliteConnectionStringBuilder { DataSource = temp, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
        using (var connection = new SqliteConnection(builder.ConnectionString))
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
            using var transaction = connection.BeginTransaction();
            using (var command = connection.CreateCommand())
            {
                command.Transaction = transaction;
                command.CommandText =
                    "CREATE TABLE schema_version (component TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID;" +
                    schemaSql +
                    "INSERT INTO schema_version (component, version) VALUES ($component, $version);";
                command.Parameters.AddWithValue("$component", kind);
                command.Parameters.AddWithValue("$version", schemaVersion);
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            // Leave a self-contained file: fold the WAL into it before the rename.
            Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE);");
        }
        foreach (var sidecar in new[] { temp + "-wal", temp + "-shm" })
        {
            File.Delete(sidecar);
        }
        File.Move(temp, path, overwrite: false);
    }

    private static void ApplyPragmas(SqliteConnection connection, string path, SqliteStoreOptions options, ILogger logger)
    {
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "PRAGMA journal_mode=WAL;";
            var mode = command.ExecuteScalar() as string;
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new PersistenceStoreException(path, $"Database '{path}' could not be switched to WAL mode (journal_mode is '{mode}').");
            }
        }
        var synchronous = options.Synchronous switch
        {
            SqliteSynchronousMode.Full => "FULL",
            SqliteSynchronousMode.Normal => "NORMAL",
            _ => "OFF",
        };
        Execute(connection, $"PRAGMA synchronous={synchronous}; PRAGMA busy_timeout={(long)options.BusyTimeout.TotalMilliseconds};");
        if (options.Synchronous == SqliteSynchronousMode.Off)
        {
            logger.LogWarning(
                "Database {Path} runs with synchronous=OFF: acknowledged writes can be lost and the file can be corrupted by a power loss. Use it for benchmarks or throw-away data only.",
                path);
        }
    }

    private static void QuickCheck(SqliteConnection connection, string path, string kind)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA quick_check(20);";
        using var reader = command.ExecuteReader();
        var problems = new List<string>();
        while (reader.Read())
        {
            var line = reader.GetString(0);
            if (!string.Equals(line, "ok", StringComparison.Ordinal))
            {
                problems.Add(line);
            }
        }
        if (problems.Count > 0)
        {
            throw new PersistenceStoreCorruptedException(
                path,
                $"The {kind} database '{path}' failed its integrity check (PRAGMA quick_check): {string.Join("; ", problems)}. " +
                "It was left untouched; restore it from a backup or another replica.");
        }
    }

    /// <summary>Checks that the file is an AkkaKv database of <paramref name="kind"/> this build can read; returns its schema version.</summary>
    private static int CheckSchema(SqliteConnection connection, string path, string kind, int supportedVersion)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version';";
        if (Convert.ToInt64(command.ExecuteScalar()) == 0)
        {
            throw new PersistenceStoreCorruptedException(
                path,
                $"'{path}' is a SQLite database but not an AkkaKv {kind} database (it has no schema_version table). It was left untouched.");
        }
        command.CommandText = "SELECT component, version FROM schema_version;";
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            throw new PersistenceStoreCorruptedException(path, $"The {kind} database '{path}' has an empty schema_version table. It was left untouched.");
        }
        var component = reader.GetString(0);
        var version = reader.GetInt32(1);
        if (!string.Equals(component, kind, StringComparison.Ordinal))
        {
            throw new PersistenceStoreException(
                path,
                $"'{path}' is an AkkaKv {component} database, not a {kind} database; the journal and the snapshot store need separate files.");
        }
        if (version > supportedVersion)
        {
            throw new PersistenceSchemaVersionException(path, version, supportedVersion);
        }
        if (version < 1)
        {
            throw new PersistenceStoreCorruptedException(path, $"The {kind} database '{path}' records schema version {version}, which no AkkaKv ever wrote. It was left untouched.");
        }
        return version;
    }

    /// <summary>Runs the upgrades from <paramref name="from"/> to <paramref name="to"/> and records the new version, all in one transaction.</summary>
    private static void Upgrade(SqliteConnection connection, string path, string kind, int from, int to, IReadOnlyList<string> upgrades, ILogger logger)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        using (var transaction = connection.BeginTransaction())
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            for (var version = from; version < to; version++)
            {
                command.CommandText = upgrades[version - 1];
                command.ExecuteNonQuery();
            }
            command.CommandText = "UPDATE schema_version SET version = $version WHERE component = $component;";
            command.Parameters.AddWithValue("$version", to);
            command.Parameters.AddWithValue("$component", kind);
            command.ExecuteNonQuery();
            transaction.Commit();
        }
        logger.LogInformation(
            "Upgraded the {Kind} database {Path} from schema version {From} to {To} in {Milliseconds:N0} ms.",
            kind, path, from, to, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
