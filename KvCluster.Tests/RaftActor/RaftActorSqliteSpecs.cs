using Akka.Actor;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Persistence;

namespace KvCluster.Tests.RaftActor;

/// <summary>
/// RaftActors whose journal and snapshot store are the production configuration (<see cref="RaftJournalConfig"/>:
/// Akka.Persistence.Sql on a SQLite file in a temporary data directory), on virtual time.
/// </summary>
public sealed class RaftActorSqliteSpecs : RaftActorTestKit
{
    private readonly string _dataDirectory;

    public RaftActorSqliteSpecs()
        : this(Path.Combine(Path.GetTempPath(), $"akkakv-raft-{Guid.NewGuid():N}"))
    {
    }

    private RaftActorSqliteSpecs(string dataDirectory)
        : base(RaftJournalConfig.Build(dataDirectory))
    {
        _dataDirectory = dataDirectory;
    }

    [Fact]
    public void Restart_ClusterNodeWithSqliteJournal_RecoversLogAndReappliesCommittedCommands()
    {
        var cluster = new RaftActorCluster(this, 3);

        RaftActorPersistenceSpecs.RestartRecoversLog(this, cluster);

        Assert.True(File.Exists(RaftJournalConfig.DatabasePath(_dataDirectory)));
    }

    [Fact]
    public void Restart_AfterSyncHardState_RestoresTheCommitIndexWithoutTheLeader()
    {
        var cluster = new RaftActorCluster(this, 3);
        var (_, follower, before) = RaftActorPersistenceSpecs.CommitThreeOnAFollower(this, cluster);

        cluster.Nodes[follower].Tell(SyncHardState.Instance, TestActor);
        ExpectMsg<HardStateSynced>();
        cluster.Stop(follower);
        cluster.Start(follower);

        var after = cluster.Status(follower);
        Assert.Equal((before.Term, before.Vote, before.LastIndex, before.Commit), (after.Term, after.Vote, after.LastIndex, after.Commit));
        AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
    }

    [Fact]
    public void Restart_AfterAddMemberWithSqliteJournal_RecoversConfiguration()
    {
        var (cluster, leader) = RaftActorMembershipSpecs.StartWithLeader(this);

        RaftActorMembershipSpecs.RestartRecoversConfiguration(this, cluster, leader);
    }

    [Fact]
    public void Restart_AfterSnapshotsWithSqliteStores_RecoversSnapshotThenReplaysOnlyTheTail() =>
        RaftActorSnapshotSpecs.RestartRecoversSnapshotAndTail(this);

    [Fact]
    public void Compaction_WithSqliteJournal_DeletesTheRowsOfCompactedEvents()
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: RaftActorSnapshotSpecs.Snapshots(every: 5, margin: 0));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, RaftActorSnapshotSpecs.Commands(20));
        var persistenceId = cluster.Settings(1).EffectivePersistenceId;

        // One entry per Ready (the commands go one at a time), so the first snapshot is at 5; the second, at 10 or later
        // (when the first's save completes, if entries outran it), compacts the journal up to the first: the journal
        // keeps everything after the previous snapshot. How far past 10 the second lands depends on the save's speed.
        AwaitAssert(() =>
        {
            var offset = ReadJournal(this, persistenceId).Log.Offset;
            var status = cluster.Status(1);
            Assert.True(offset >= 5, $"journal compacted to {offset}; snapshot {status.SnapshotIndex}, log from {status.FirstLogIndex}, applied {status.Applied}");
        }, TimeSpan.FromSeconds(20));

        // The rows of the events before the compaction point are gone from the file, not just hidden (disk stays bounded).
        AwaitAssert(() => Assert.True(OldestJournalRow(persistenceId) > 1, $"oldest journal row of {persistenceId}: {OldestJournalRow(persistenceId)}"), TimeSpan.FromSeconds(20));
        // The newest two snapshots are kept; an older one's row goes once the newest is saved (asynchronously).
        AwaitAssert(() => Assert.InRange(SnapshotRows(persistenceId), 1, 2), TimeSpan.FromSeconds(20));
    }

    private long OldestJournalRow(string persistenceId) =>
        Scalar($"SELECT MIN(sequence_number) FROM journal WHERE persistence_id = '{persistenceId}'");

    private long SnapshotRows(string persistenceId) =>
        Scalar($"SELECT COUNT(*) FROM snapshot WHERE persistence_id = '{persistenceId}'");

    private long Scalar(string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(RaftJournalConfig.ConnectionString(RaftJournalConfig.DatabasePath(_dataDirectory)));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
    }

    [Fact]
    public void CorruptNewestSnapshotRow_SqliteRecoveryFallsBackToThePreviousSnapshotAndTheLog() =>
        RaftActorSnapshotSpecs.CorruptNewestFallsBack(this);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // best effort: a temporary directory
            }
        }
    }
}
