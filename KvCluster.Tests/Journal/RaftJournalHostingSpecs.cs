using Akka.Hosting;
using KvCluster.Raft.Persistence;
using KvCluster.Raft.Serialization;
using KvCluster.Tests.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace KvCluster.Tests.Journal;

/// <summary>The Akka.Hosting path (the node's) yields the same journal and serializer configuration as the HOCON one.</summary>
public sealed class RaftJournalHostingSpecs : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Dispose();
    }

    [Fact]
    public void WithRaftJournalAndSerializer_HostingBuilder_ConfiguresSqlPluginsAndBinding()
    {
        var builder = new AkkaConfigurationBuilder(new ServiceCollection(), "akkakv");

        builder.WithRaftSerializer().WithRaftJournal(_directory.Path);
        var config = builder.Configuration.Value;

        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", config.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal(RaftJournalConfig.ProviderName, config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal(RaftJournalConfig.ProviderName, config.GetString("akka.persistence.snapshot-store.sql.provider-name"));
        Assert.Contains(RaftJournalConfig.DatabasePath(_directory.Path), config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal(1, config.GetInt("akka.persistence.journal.sql.parallelism"));
        Assert.True(config.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
        Assert.Equal(RaftWireSerializer.SerializerName, config.GetString($"akka.actor.serialization-bindings.\"{typeof(KvCluster.Raft.Core.RaftMessage).FullName}, KvCluster.Raft\""));
    }

    [Fact]
    public void DataOptionsSetup_BothPlugins_UseTheJournalFile_AndSetSqlitesBusyTimeoutOnEveryConnection()
    {
        var options = new RaftJournalOptions();
        var setup = RaftJournalConfig.DataOptionsSetup(_directory.Path, options);

        foreach (var plugin in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql" })
        {
            Assert.True(setup.TryGetDataOptionsFor(plugin, out var data), plugin);
            Assert.Equal(RaftJournalConfig.ConnectionString(RaftJournalConfig.DatabasePath(_directory.Path), options), data!.ConnectionOptions.ConnectionString);
            Assert.Equal(RaftJournalConfig.ProviderName, data.ConnectionOptions.ProviderName);
            Assert.Contains(data.DataContextOptions.Interceptors ?? [], i => i is SqliteBusyTimeout);
        }
    }

    [Fact]
    public void SqliteBusyTimeout_OnAnOpenedConnection_SetsSqlitesOwnBusyTimeout()
    {
        // Without it Microsoft.Data.Sqlite retries a busy database itself, sleeping 150 ms between tries.
        using var connection = new SqliteConnection(RaftJournalConfig.ConnectionString(Path.Combine(_directory.Path, "busy.db")));
        connection.Open();
        Assert.Equal(0L, BusyTimeout(connection));

        new SqliteBusyTimeout(TimeSpan.FromSeconds(30)).Apply(connection);

        Assert.Equal(30_000L, BusyTimeout(connection));
    }

    private static long BusyTimeout(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA busy_timeout;";
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public void Build_FileWithThePluginsTables_LeavesAutoInitializeOff_OtherwiseOn()
    {
        var fresh = RaftJournalConfig.Build(_directory.Path);
        Assert.True(fresh.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
        Assert.True(fresh.GetBoolean("akka.persistence.snapshot-store.sql.auto-initialize"));

        using (var connection = new SqliteConnection(RaftJournalConfig.ConnectionString(RaftJournalConfig.DatabasePath(_directory.Path))))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE journal (ordering INTEGER PRIMARY KEY);";
            command.ExecuteNonQuery();
            Assert.True(RaftJournalConfig.Build(_directory.Path).GetBoolean("akka.persistence.journal.sql.auto-initialize")); // the snapshot table is missing

            command.CommandText = "CREATE TABLE snapshot (persistence_id TEXT);";
            command.ExecuteNonQuery();
        }

        var existing = RaftJournalConfig.Build(_directory.Path);
        Assert.False(existing.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
        Assert.False(existing.GetBoolean("akka.persistence.snapshot-store.sql.auto-initialize"));
    }
}
