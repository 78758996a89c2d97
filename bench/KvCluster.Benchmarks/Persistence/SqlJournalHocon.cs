using Akka.Configuration;
using Akka.Persistence.Sql;
using Microsoft.Data.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// The actor system configuration of the persistence benchmark: Akka.Persistence.Sql (Linq2Db) as journal and
/// snapshot store, provider <c>SQLite.MS</c> (Microsoft.Data.Sqlite), on one SQLite file in WAL mode with
/// synchronous=FULL, configured through HOCON.
/// </summary>
/// <remarks>
/// The node configures the same plugin through Akka.Persistence.Sql.Hosting (branch akka-raft). These are the
/// plugin settings that matter to it, under <c>akka.persistence.journal.sql</c>:
/// <c>provider-name</c> (SQLite.MS), <c>connection-string</c>, <c>table-mapping</c> (default), <c>auto-initialize</c>,
/// <c>batch-size</c> (100: rows per database batch), <c>parallelism</c> (3: concurrent writers; SQLite takes one
/// writer at a time), <c>replay-batch-size</c> (1000: rows per recovery query), <c>buffer-size</c> (5000: pending
/// writes before rejection). <c>--set key=value</c> overrides any of them for a run, so they can be tuned from
/// measurements.
/// </remarks>
internal static class SqlJournalHocon
{
    /// <summary>The connection string of the journal file: pooled connections, 30 s busy timeout.</summary>
    public static string ConnectionString(string path) =>
        new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ConnectionString;

    /// <summary>
    /// Creates the database file in WAL mode (the journal mode is stored in the file, so every later connection,
    /// the plugin's included, uses WAL) and returns what a new connection reads back: journal_mode and synchronous.
    /// synchronous is per connection and cannot be set through the connection string; SQLite's compiled-in default
    /// applies to the plugin's connections, and this read-back shows it is FULL (2).
    /// </summary>
    public static (string JournalMode, long Synchronous) Prepare(string path)
    {
        using (var connection = new SqliteConnection(ConnectionString(path)))
        {
            connection.Open();
            using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteScalar();
        }
        using var fresh = new SqliteConnection(ConnectionString(path));
        fresh.Open();
        using var mode = fresh.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode;";
        var journalMode = (string)mode.ExecuteScalar()!;
        using var sync = fresh.CreateCommand();
        sync.CommandText = "PRAGMA synchronous;";
        var synchronous = (long)sync.ExecuteScalar()!;
        return (journalMode, synchronous);
    }

    /// <summary>The HOCON: plugin selection, connection, overrides, and the bench event serializer's binding.</summary>
    public static Config Build(string path, IReadOnlyDictionary<string, string> journalOverrides)
    {
        var connection = ConnectionString(path).Replace("\"", "\\\"", StringComparison.Ordinal);
        var overrides = string.Join("\n", journalOverrides.Select(o => $"{o.Key} = {o.Value}"));
        return ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = WARNING
              actor {
                serializers { bench-batch = "KvCluster.Benchmarks.Persistence.BatchEventSerializer, KvCluster.Benchmarks" }
                serialization-bindings { "KvCluster.Benchmarks.Persistence.BatchEvent, KvCluster.Benchmarks" = bench-batch }
                serialization-identifiers { "KvCluster.Benchmarks.Persistence.BatchEventSerializer, KvCluster.Benchmarks" = {{BatchEventSerializer.Id}} }
              }
              persistence {
                journal {
                  plugin = "akka.persistence.journal.sql"
                  sql {
                    connection-string = "{{connection}}"
                    provider-name = "SQLite.MS"
                    table-mapping = default
                    auto-initialize = true
                    {{overrides}}
                  }
                }
                snapshot-store {
                  plugin = "akka.persistence.snapshot-store.sql"
                  sql {
                    connection-string = "{{connection}}"
                    provider-name = "SQLite.MS"
                    table-mapping = default
                    auto-initialize = true
                  }
                }
              }
            }
            """).WithFallback(SqlPersistence.DefaultConfiguration);
    }
}
