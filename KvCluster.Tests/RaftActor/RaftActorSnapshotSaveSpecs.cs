using KvCluster.Raft.Actor;

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

    private static Func<RaftActorSettings, RaftActorSettings> OnStop(long every, long minEntries, double ratio = 0.1) =>
        s => RaftActorSnapshotSpecs.Snapshots(every, margin: 0)(s) with { SnapshotOnStopMinEntries = minEntries, SnapshotOnStopRatio = ratio };

    private SnapshotBeforeStopDone AskSnapshotBeforeStop(RaftActorCluster cluster)
    {
        cluster.Nodes[1].Tell(SnapshotBeforeStop.Instance, TestActor);
        return ExpectMsg<SnapshotBeforeStopDone>(s_wait);
    }

    [Fact]
    public void SnapshotBeforeStop_WithALogWorthIt_SnapshotsEverythingApplied_AndTheRestartAppliesNothingAfterIt()
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: OnStop(every: 1_000, minEntries: 5));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        var commands = RaftActorSnapshotSpecs.Commands(12);
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, commands);
        var applied = cluster.Status(1).Applied;
        Assert.Equal(0, cluster.Status(1).SnapshotIndex); // no trigger of its own before 1,000 entries

        var done = AskSnapshotBeforeStop(cluster);

        Assert.True(done.Taken, done.Reason);
        Assert.Equal(applied, done.SnapshotIndex);
        Assert.Equal(applied, cluster.Status(1).SnapshotIndex);
        cluster.Stop(1);
        cluster.Start(1);
        var machine = cluster.Machines[1];
        Assert.Equal((applied, commands.Length), Assert.Single(machine.Restored));
        Assert.Equal(commands, machine.Commands);
        Assert.DoesNotContain(machine.Applied, a => a.Index <= applied && machine.Restored[0].Index < a.Index);
    }

    [Theory]
    [InlineData(4, 0.1, "not worth one")] // fewer entries than SnapshotOnStopMinEntries (5 with the leader's no-op)
    [InlineData(12, 0, "off")]
    public void SnapshotBeforeStop_NotWorthIt_OrOff_AnswersAtOnceWithoutASnapshot(int commands, double ratio, string reason)
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: OnStop(every: 1_000, minEntries: 6, ratio));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, RaftActorSnapshotSpecs.Commands(commands));

        var done = AskSnapshotBeforeStop(cluster);

        Assert.False(done.Taken);
        Assert.Contains(reason, done.Reason);
        Assert.Equal(0, done.SnapshotIndex);
        Assert.Equal(0, cluster.Status(1).SnapshotIndex);
    }

    [Fact]
    public void SnapshotBeforeStop_WhileASnapshotIsBeingSaved_IsAnsweredOnlyOnceEverythingAppliedIsInADurableSnapshot()
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: OnStop(every: 5, minEntries: 1));
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        _saves.Hold();
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, RaftActorSnapshotSpecs.Commands(4, "a"));
        AwaitCondition(() => _saves.PendingWrites == 1, s_wait, "the snapshot at 5 reached the store and is held there");
        RaftActorSnapshotSpecs.Commit(this, cluster, 1, RaftActorSnapshotSpecs.Commands(3, "b"));
        var applied = cluster.Status(1).Applied;

        cluster.Nodes[1].Tell(SnapshotBeforeStop.Instance, TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // the held save has not completed: no answer yet
        _saves.Release();

        var done = ExpectMsg<SnapshotBeforeStopDone>(s_wait);
        Assert.Equal(applied, done.SnapshotIndex);
        Assert.Equal(applied, cluster.Status(1).SnapshotIndex);
    }
}
