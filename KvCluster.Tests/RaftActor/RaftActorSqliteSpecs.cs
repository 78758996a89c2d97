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
