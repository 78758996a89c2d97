namespace KvCluster.Tests.RaftActor;

/// <summary>
/// A snapshot a node takes of its own state is saved beside the log, not in front of it: while the snapshot store holds
/// the save (a <see cref="GatedSnapshotStore"/>), the journal keeps writing and the cluster keeps committing.
/// </summary>
public sealed class RaftActorSnapshotSaveSpecs : RaftActorTestKit
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    private readonly JournalGate _saves;

    public RaftActorSnapshotSaveSpecs()
        : this($"snapshot-gate-{Guid.NewGuid():N}")
    {
    }

    private RaftActorSnapshotSaveSpecs(string gateId)
        : base(GatedSnapshotStore.Hocon(gateId))
    {
        _saves = GatedJournal.Gates.GetOrAdd(gateId, _ => new JournalGate());
    }

    [Fact]
    public void Writes_WhileEveryNodesOwnSnapshotSaveIsHeld_StillCommitAndApply()
    {
        _saves.Hold();
        var cluster = new RaftActorCluster(this, 3, configureActor: RaftActorSnapshotSpecs.Snapshots(every: 10, margin: 2));
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;

        RaftActorSnapshotSpecs.Commit(this, cluster, leader, RaftActorSnapshotSpecs.Commands(12, "a"));
        RaftActorSnapshotSpecs.Commit(this, cluster, leader, RaftActorSnapshotSpecs.Commands(3, "b"));
        AwaitCondition(() => _saves.PendingWrites == 3, s_wait, "every node's snapshot save reached the store and is held there");

        // With all three saves held, 20 more commands commit, and every node applies them.
        RaftActorSnapshotSpecs.Commit(this, cluster, leader, RaftActorSnapshotSpecs.Commands(20, "c"));
        var applied = cluster.Status(leader).Applied;
        foreach (var id in cluster.Nodes.Keys)
        {
            AwaitAssert(() => Assert.True(cluster.Status(id).Applied >= applied - 1, $"node {id} applied {cluster.Status(id).Applied} of {applied}"), s_wait);
            Assert.Equal(0, cluster.Status(id).SnapshotIndex);
        }

        Assert.Equal(3, _saves.PendingWrites);

        // Released, each snapshot becomes the node's durable one, and the log is compacted behind it.
        _saves.Release();
        foreach (var id in cluster.Nodes.Keys)
        {
            AwaitAssert(() => Assert.InRange(cluster.Status(id).SnapshotIndex, 10, applied), s_wait);
        }

        Assert.Equal(0, _saves.PendingWrites);
    }

    [Fact]
    public void ASnapshotThatFellDueWhileThePreviousWasSaving_IsTakenOnceThatSaveCompletes_WithoutAnotherWrite()
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: RaftActorSnapshotSpecs.Snapshots(every: 5, margin: 0));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        _saves.Hold();

        // The first snapshot (at 5) is held in the store while 12 entries more are applied: the next one is due already.
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, RaftActorSnapshotSpecs.Commands(4, "a"));
        AwaitCondition(() => _saves.PendingWrites == 1, s_wait, "the first snapshot's save reached the store and is held there");
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, RaftActorSnapshotSpecs.Commands(12, "b"));
        var applied = cluster.Status(1).Applied;
        Assert.Equal(0, cluster.Status(1).SnapshotIndex);

        // Released with no write after it: the due snapshot is taken at once, at everything applied, not at the next write.
        _saves.Release();
        AwaitAssert(() => Assert.Equal(applied, cluster.Status(1).SnapshotIndex), s_wait);
        Assert.Equal(applied, cluster.Status(1).FirstLogIndex - 1);
    }
}
