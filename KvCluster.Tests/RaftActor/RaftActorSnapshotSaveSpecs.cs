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
}
