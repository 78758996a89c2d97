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
}
