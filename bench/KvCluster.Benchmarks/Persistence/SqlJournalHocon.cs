using Akka.Configuration;
using Akka.Persistence.Sql;
using KvCluster.Raft.Persistence;
using Microsoft.Data.Sqlite;

namespace KvCluster.Benchmarks.Persistence;

/// <summary>
/// The actor system configuration of the persistence benchmark: Akka.Persistence.Sql (Linq2Db) as journal and
/// snapshot store, provider <c>SQLite.MS</c> (Microsoft.Data.Sqlite), on one SQLite file in WAL mode with
/// synchronous=FULL, configured through HOCON.
/// </summary>
/// <remarks>
/// By default the journal gets the node's settings, from KvCluster.Raft's <see cref="RaftJournalConfig"/> (the same
/// HOCON the node's Akka.Hosting extension <c>WithRaftJournal</c> adds); <c>--plugin-defaults</c> keeps the plugin's own
/// defaults instead. The plugin settings that matter, under <c>akka.persistence.journal.sql</c> (plugin default / node):
/// <c>parallelism</c> (3 / 1: concurrent writers; SQLite takes one writer at a time), <c>batch-size</c> (100 / 100:
/// queued writes per database transaction), <c>replay-batch-size</c> (1000 / 1000: rows per recovery query),
/// <c>buffer-size</c> (5000 / 5000: pending writes before rejection), <c>tag-write-mode</c> (TagTable / Csv).
/// <c>--set key=value</c> overrides any of them for a run, so they can be tuned from measurements.
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
    public static (string JournalMode, long Synchronous) Prepare(string path, bool nodeSettings)
    {
        // The connection string the plugin will use: the node's or ours.
        var connectionString = nodeSettings ? RaftJournalConfig.ConnectionString(path) : ConnectionString(path);
        using (var connection = new SqliteConnection(connectionString))
        {
            connection.Open();
            using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteScalar();
        }
        using var fresh = new SqliteConnection(connectionString);
        fresh.Open();
        using var mode = fresh.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode;";
        var journalMode = (string)mode.ExecuteScalar()!;
        using var sync = fresh.CreateCommand();
        sync.CommandText = "PRAGMA synchronous;";
        var synchronous = (long)sync.ExecuteScalar()!;
        return (journalMode, synchronous);
    }

    /// <summary>
    /// The HOCON: the bench event serializer's binding, <paramref name="journalOverrides"/> (keys of
    /// <c>akka.persistence.journal.sql</c>), then the journal and snapshot store: the node's settings
    /// (<see cref="RaftJournalConfig.Build"/> of branch akka-raft: parallelism 1, tag-write-mode Csv, busy timeout 30 s)
    /// when <paramref name="nodeSettings"/>, otherwise the plugin's defaults with only the connection and provider set.
    /// </summary>
    public static Config Build(string path, bool nodeSettings, IReadOnlyDictionary<string, string> journalOverrides)
    {
        var overrides = string.Join("\n", journalOverrides.Select(o => $"akka.persistence.journal.sql.{o.Key} = {o.Value}"));
        var bench = ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = WARNING
              actor {
                serializers { bench-batch = "KvCluster.Benchmarks.Persistence.BatchEventSerializer, KvCluster.Benchmarks" }
                serialization-bindings { "KvCluster.Benchmarks.Persistence.BatchEvent, KvCluster.Benchmarks" = bench-batch }
                serialization-identifiers { "KvCluster.Benchmarks.Persistence.BatchEventSerializer, KvCluster.Benchmarks" = {{BatchEventSerializer.Id}} }
              }
            }
            {{overrides}}
            """);
        var journal = nodeSettings
            ? RaftJournalConfig.Build(Path.GetDirectoryName(path)!, new RaftJournalOptions { FileName = Path.GetFileName(path) })
            : PluginDefaults(path);
        return bench.WithFallback(journal).WithFallback(SqlPersistence.DefaultConfiguration);
    }

    /// <summary>Akka.Persistence.Sql with its own defaults: only the plugin selection, connection and provider set.</summary>
    private static Config PluginDefaults(string path)
    {
        var connection = ConnectionString(path).Replace("\"", "\\\"", StringComparison.Ordinal);
        return ConfigurationFactory.ParseString($$"""
            akka.persistence {
              journal {
                plugin = "akka.persistence.journal.sql"
                sql {
                  connection-string = "{{connection}}"
                  provider-name = "SQLite.MS"
                  auto-initialize = true
                }
              }
              snapshot-store {
                plugin = "akka.persistence.snapshot-store.sql"
                sql {
                  connection-string = "{{connection}}"
                  provider-name = "SQLite.MS"
                  auto-initialize = true
                }
              }
            }
            """);
    }
}
