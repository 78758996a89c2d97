using Akka.Configuration;
using Akka.Hosting;
using Akka.Persistence.Sql.Config;
using LinqToDB;
using Microsoft.Data.Sqlite;

namespace KvCluster.Raft.Persistence;

/// <summary>
/// The journal and snapshot store of a Raft node: Akka.Persistence.Sql (linq2db provider <c>SQLite.MS</c>, i.e.
/// Microsoft.Data.Sqlite over e_sqlite3) on one SQLite file in the data directory. What it guarantees:
/// <list type="bullet">
/// <item>WAL mode: set with <c>PRAGMA journal_mode=WAL</c> on the file before the actor system starts; SQLite stores it
/// in the file, so every later connection (the plugin's pool included) uses it.</item>
/// <item><c>synchronous=FULL</c> (2) on every connection: <c>synchronous</c> is per connection, and the plugin opens its
/// own; FULL is the compiled-in default of the e_sqlite3 library Microsoft.Data.Sqlite bundles (SQLite's
/// SQLITE_DEFAULT_SYNCHRONOUS=2 and SQLITE_DEFAULT_WAL_SYNCHRONOUS left at it), and nothing here lowers it. The journal
/// conformance spec reads it back on a connection opened with <see cref="ConnectionString"/>, as the plugin opens
/// them. In WAL mode FULL syncs the WAL at every commit: an acknowledged write survives power loss.</item>
/// <item>Tables created on first use (<c>auto-initialize = on</c> while the file lacks them; off once it has them); a busy
/// timeout (<see cref="RaftJournalOptions.BusyTimeout"/>), SQLite's own on every plugin connection when configured through
/// <see cref="WithRaftJournal"/> (<see cref="SqliteBusyTimeout"/>), else Microsoft.Data.Sqlite's retry every 150 ms.</item>
/// </list>
/// Two ways in, with the same values: <see cref="WithRaftJournal"/> for an Akka.Hosting builder (the node), and
/// <see cref="Build"/> for a plain <see cref="Config"/> (Akka.TestKit specs).
/// </summary>
public static class RaftJournalConfig
{
    /// <summary>The linq2db provider name of Microsoft.Data.Sqlite.</summary>
    public const string ProviderName = "SQLite.MS";

    /// <summary>
    /// Configures the Raft journal and snapshot store on <c>&lt;dataDirectory&gt;/raft.db</c> (see the type's summary).
    /// Creates the directory and the file and switches it to WAL mode at once.
    /// </summary>
    /// <param name="builder">The Akka.Hosting builder.</param>
    /// <param name="dataDirectory">The node's data directory.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    /// <exception cref="SqliteException">The database file cannot be opened or switched to WAL mode.</exception>
    public static AkkaConfigurationBuilder WithRaftJournal(this AkkaConfigurationBuilder builder, string dataDirectory, RaftJournalOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        options ??= new RaftJournalOptions();
        builder.AddHocon(Build(dataDirectory, options), HoconAddMode.Prepend);
        return builder.AddSetup(DataOptionsSetup(dataDirectory, options));
    }

    /// <summary>
    /// linq2db's options for both plugins, read by them from the actor system's setup: the same connection string as the
    /// HOCON, and <see cref="SqliteBusyTimeout"/> on every connection they open.
    /// </summary>
    /// <param name="dataDirectory">The node's data directory.</param>
    /// <param name="options">Settings.</param>
    /// <returns>The setup, keyed by the two plugins' ids.</returns>
    public static MultiDataOptionsSetup DataOptionsSetup(string dataDirectory, RaftJournalOptions options)
    {
        var data = new DataOptions()
            .UseConnectionString(ProviderName, ConnectionString(DatabasePath(dataDirectory, options), options))
            .UseInterceptor(new SqliteBusyTimeout(options.BusyTimeout));
        var setup = new MultiDataOptionsSetup();
        setup.AddDataOptions($"akka.persistence.journal.{options.PluginIdentifier}", data);
        setup.AddDataOptions($"akka.persistence.snapshot-store.{options.PluginIdentifier}", data);
        return setup;
    }

    /// <summary>
    /// The same configuration as <see cref="WithRaftJournal"/>, as HOCON for <c>ActorSystem.Create</c> or a TestKit.
    /// Creates the directory and the file and switches it to WAL mode at once.
    /// </summary>
    /// <param name="dataDirectory">The node's data directory.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The configuration (journal, snapshot store and, when default, the plugin selection).</returns>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    /// <exception cref="SqliteException">The database file cannot be opened or switched to WAL mode.</exception>
    public static Config Build(string dataDirectory, RaftJournalOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        options ??= new RaftJournalOptions();
        options.Validate();
        var path = DatabasePath(dataDirectory, options);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var connectionString = ConnectionString(path, options);
        var tablesExist = EnableWal(connectionString);
        var autoInitialize = tablesExist ? "off" : "on";
        var id = options.PluginIdentifier;
        var cs = Quote(connectionString);
        var hocon = $$"""
            akka.persistence {
              {{(options.IsDefaultPlugin ? $"journal.plugin = \"akka.persistence.journal.{id}\"" : string.Empty)}}
              {{(options.IsDefaultPlugin ? $"snapshot-store.plugin = \"akka.persistence.snapshot-store.{id}\"" : string.Empty)}}
              journal.{{id}} {
                class = "Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql"
                plugin-id = "akka.persistence.journal.{{id}}"
                connection-string = {{cs}}
                provider-name = "{{ProviderName}}"
                auto-initialize = {{autoInitialize}}
                parallelism = {{options.Parallelism}}
                batch-size = {{options.BatchSize}}
                replay-batch-size = {{options.ReplayBatchSize}}
                buffer-size = {{options.BufferSize}}
                tag-write-mode = Csv
              }
              snapshot-store.{{id}} {
                class = "Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql"
                plugin-id = "akka.persistence.snapshot-store.{{id}}"
                connection-string = {{cs}}
                provider-name = "{{ProviderName}}"
                auto-initialize = {{autoInitialize}}
              }
            }
            """;
        return ConfigurationFactory.ParseString(hocon);
    }

    /// <summary>The SQLite file the journal uses for <paramref name="dataDirectory"/>.</summary>
    /// <param name="dataDirectory">The node's data directory.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The full path of the file.</returns>
    public static string DatabasePath(string dataDirectory, RaftJournalOptions? options = null) =>
        Path.GetFullPath(Path.Combine(dataDirectory, (options ?? new RaftJournalOptions()).FileName));

    /// <summary>The Microsoft.Data.Sqlite connection string the plugin uses (shared cache off, pooled, busy timeout).</summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>The connection string.</returns>
    public static string ConnectionString(string databasePath, RaftJournalOptions? options = null)
    {
        options ??= new RaftJournalOptions();
        return new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    /// <summary>
    /// Switches the file to WAL mode (persistent in the file) and checks that it took; returns whether the plugin's
    /// tables (<see cref="PluginTables"/>) exist already, in which case the plugins' <c>auto-initialize</c> is left off:
    /// creating tables "if not exists" only repeats what the first start did, and costs each start linq2db's DDL path
    /// (its first use, mostly JIT) on the way to the first journal read.
    /// </summary>
    private static bool EnableWal(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        var mode = command.ExecuteScalar() as string;
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"SQLite refused WAL mode for '{connection.DataSource}' (journal_mode is '{mode}').");
        }

        command.CommandText = $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({string.Join(", ", PluginTables.Select(t => $"'{t}'"))});";
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == PluginTables.Length;
    }

    /// <summary>The tables Akka.Persistence.Sql creates on a SQLite file with this configuration (default table
    /// mapping, tags in a CSV column): the journal's and the snapshot store's.</summary>
    internal static readonly string[] PluginTables = ["journal", "snapshot"];

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
