using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>Snapshots, log compaction and InstallSnapshot (Raft §7, thesis ch. 5), driven directly on the core.</summary>
public sealed class RaftSnapshotTests
{
    private static Entry E(long index, long term) => new(term, index, EntryType.Normal, RaftHarness.Cmd($"{index}@{term}"));

    /// <summary>Three voters led by node 1; node 3 is cut off while <paramref name="count"/> commands commit, then node
    /// 1 snapshots and compacts its whole log (margin 0).</summary>
    private static (RaftHarness H, SnapshotMetadata Snapshot) LaggingFollower(int count = 5)
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(3);
        for (var i = 0; i < count; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
            h.DeliverAll();
        }

        var snapshot = h.SnapshotAndCompact(1);
        h.Isolated.Remove(3);
        return (h, snapshot);
    }

    /// <summary>Delivers everything but snapshots, which are returned (lost on the way).</summary>
    private static List<InstallSnapshot> DeliverAllButSnapshots(RaftHarness h)
    {
        var lost = new List<InstallSnapshot>();
        h.DeliverAll(m =>
        {
            if (m is InstallSnapshot s)
            {
                lost.Add(s);
                return true;
            }

            return false;
        });
        return lost;
    }

    [Fact]
    public void MemoryStorage_CompactTo_FirstIndexMovesAndPrevTermStaysReadable()
    {
        var storage = new MemoryRaftStorage();
        storage.Append([E(1, 1), E(2, 1), E(3, 2), E(4, 2), E(5, 3)]);

        storage.CreateSnapshot(new SnapshotMetadata(4, 2, new Membership([1], []), 0));
        storage.Compact(3);

        Assert.Equal(4, storage.FirstIndex);
        Assert.Equal(5, storage.LastIndex);
        Assert.Equal(2, storage.Term(3)); // the term before the first entry: AppendEntries after it must still match
        Assert.Throws<ArgumentOutOfRangeException>(() => storage.Term(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => storage.Entries(3, 5, long.MaxValue));
        Assert.Equal(new long[] { 4, 5 }, storage.Entries(4, 6, long.MaxValue).Select(e => e.Index));
        Assert.Throws<ArgumentOutOfRangeException>(() => storage.Compact(5)); // beyond the snapshot: nothing would cover it
        // Raft §7: entries up to the snapshot may be discarded; the index and term of the last one are kept
    }

    [Fact]
    public void CreateSnapshotMetadata_BeyondApplied_Throws()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));

        Assert.Throws<ArgumentOutOfRangeException>(() => h[1].CreateSnapshotMetadata(h[1].LastIndex));
        // Raft §7: a snapshot holds only applied (so committed) state
    }

    [Fact]
    public void Leader_FollowerNextIndexCompacted_SendsInstallSnapshotAndPausesAppends()
    {
        var (h, snapshot) = LaggingFollower();

        h.Tick(1); // heartbeat; node 3 answers, the leader tries to replicate from its next index, long compacted
        var sent = DeliverAllButSnapshots(h);

        Assert.NotEmpty(sent);
        Assert.Equal(snapshot.Index, sent[0].Snapshot.Index);
        Assert.Equal(snapshot.Term, sent[0].Snapshot.Term);
        Assert.Equal(ProgressState.Snapshot, h[1].ProgressOf(3)!.State);
        h[1].Propose(RaftHarness.Cmd("more"));
        Assert.DoesNotContain(h.Take<AppendEntries>(from: 1, to: 3), a => a.Entries.Count > 0);
        // Raft §7: the leader sends InstallSnapshot to a follower that is too far behind
    }

    [Fact]
    public void Follower_InstallsSnapshot_LogResetAckedAfterPersistThenReplicationResumes()
    {
        var (h, snapshot) = LaggingFollower();
        h[1].Propose(RaftHarness.Cmd("after"));

        h.TickAll();
        h.DeliverAll();

        var installed = Assert.Single(h.Installed[3]);
        Assert.Equal(snapshot.Index, installed.Index);
        Assert.Equal(snapshot.Index + 1, h.Storage[3].FirstIndex);
        Assert.Equal(h[1].LastIndex, h[3].LastIndex);
        Assert.Equal(h[1].CommitIndex, h[3].CommitIndex);
        Assert.Equal(ProgressState.Replicate, h[1].ProgressOf(3)!.State);
        Assert.Equal(h[1].LogEntries(snapshot.Index + 1).Select(e => (e.Index, e.Term)), h[3].LogEntries(1).Select(e => (e.Index, e.Term)));
        Assert.Equal(new[] { "after" }, h.AppliedCommands(3)); // only what follows the snapshot is applied as entries
        // Raft §7: InstallSnapshot receiver rules 6-8, then normal replication after the snapshot
    }

    [Fact]
    public void Follower_InstallSnapshot_AckOnlyWithTheDurableReady()
    {
        var (h, snapshot) = LaggingFollower();
        h[3].Step(new InstallSnapshot(1, 3, h[1].Term, snapshot));

        var ready = h[3].GetReady();

        Assert.Same(snapshot, ready.Snapshot);
        Assert.True(ready.MustSync);
        Assert.Empty(ready.CommittedEntries);
        var ack = Assert.IsType<AppendEntriesResult>(Assert.Single(ready.MessagesAfterPersist));
        Assert.True(ack.Success);
        Assert.Equal(snapshot.Index, ack.Index);
        Assert.DoesNotContain(ready.Messages, m => m is AppendEntriesResult);
        // etcd's msgsAfterAppend: the acknowledgement promises a durable snapshot
    }

    [Fact]
    public void Follower_StaleSnapshot_RejectedWithItsCommitIndex()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        for (var i = 0; i < 4; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
            h.DeliverAll();
        }

        var stale = new SnapshotMetadata(2, h[1].Term, new Membership([1, 2, 3], []), 0);
        var logBefore = h[3].LogEntries(1).Select(e => e.Index).ToList();

        h[3].Step(new InstallSnapshot(1, 3, h[1].Term, stale));
        var ready = h[3].GetReady();

        Assert.Null(ready.Snapshot);
        var reply = Assert.IsType<AppendEntriesResult>(Assert.Single(ready.MessagesAfterPersist));
        Assert.True(reply.Success);
        Assert.Equal(h[3].CommitIndex, reply.Index);
        Assert.Equal(logBefore, h[3].LogEntries(1).Select(e => e.Index));
        // Raft §7 / etcd: a snapshot at or below the commit index is stale and ignored
    }

    [Fact]
    public void Follower_SnapshotThenAppendsAfterItInTheSameReady_PersistsSnapshotThenEntries()
    {
        var (h, snapshot) = LaggingFollower();
        var term = h[1].Term;
        var next = new[] { new Entry(term, snapshot.Index + 1, EntryType.Normal, RaftHarness.Cmd("n1")), new Entry(term, snapshot.Index + 2, EntryType.Normal, RaftHarness.Cmd("n2")) };

        h[3].Step(new InstallSnapshot(1, 3, term, snapshot));
        h[3].Step(new AppendEntries(1, 3, term, snapshot.Index, snapshot.Term, next, snapshot.Index + 1)); // before the Ready
        var ready = h[3].GetReady();
        h.Storage[3].Persist(ready);
        h[3].Advance(ready);
        var second = h[3].GetReady();

        Assert.Same(snapshot, ready.Snapshot);
        Assert.Null(ready.TruncateFrom);
        Assert.Equal(new[] { snapshot.Index + 1, snapshot.Index + 2 }, ready.Entries.Select(e => e.Index));
        Assert.Equal(snapshot.Index + 1, h.Storage[3].FirstIndex);
        Assert.Equal(snapshot.Index + 2, h.Storage[3].LastIndex);
        Assert.Equal(snapshot.Index, h[3].AppliedIndex);
        Assert.Equal(new[] { snapshot.Index + 1 }, second.CommittedEntries.Select(e => e.Index));
        // Raft §7 receiver rule 6-7, then Figure 2 AppendEntries rules on the log that follows the snapshot
    }

    [Fact]
    public void Follower_SnapshotWhoseLastEntryItHolds_CommitsWithoutReset()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("a"));
        h[1].Propose(RaftHarness.Cmd("b"));
        h.Process(1);
        var appends = h.Take<AppendEntries>(from: 1, to: 3); // delivered to node 3 only: nothing commits yet
        h.Deliver(appends);
        h.Process(3);
        h.Outbox.Clear();
        var snapshot = new SnapshotMetadata(h[3].LastIndex - 1, h[1].Term, new Membership([1, 2, 3], []), 0);

        h[3].Step(new InstallSnapshot(1, 3, h[1].Term, snapshot));
        var ready = h[3].GetReady();

        Assert.Null(ready.Snapshot);
        Assert.Equal(snapshot.Index, h[3].CommitIndex);
        Assert.Equal(1, h[3].FirstIndex);
        // etcd's restore: a snapshot whose (index, term) the log holds only fast-forwards the commit index
    }

    [Fact]
    public void Snapshot_CarriesMembership_NewLearnerAndItsRestartUseIt()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.AddJoiner(4);
        h.Isolated.Add(4);
        RaftMembershipTests.Change(h, 1, ConfigChange.AddLearner(4));
        h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();
        var snapshot = h.SnapshotAndCompact(1);
        h.Isolated.Remove(4);

        h.TickAll();
        h.DeliverAll();
        h.Restart(4);

        Assert.Equal(new ulong[] { 1, 2, 3 }, snapshot.Membership.Voters);
        Assert.Equal(new ulong[] { 4 }, snapshot.Membership.Learners);
        Assert.Equal(snapshot.Index, Assert.Single(h.Installed[4]).Index);
        Assert.Equal(new ulong[] { 1, 2, 3 }, h[4].Membership.Voters);
        Assert.Equal(new ulong[] { 4 }, h[4].Membership.Learners);
        Assert.Equal(snapshot.MembershipIndex, h[4].MembershipIndex);
        Assert.Equal(snapshot.Index, h[4].AppliedIndex);
        // Raft §7 / thesis §5.1: the snapshot's metadata holds the latest configuration as of its last index
    }

    [Fact]
    public void Leader_SnapshotReportedFailed_ProbesAndSendsItAgain()
    {
        var (h, _) = LaggingFollower();
        h.Tick(1);
        Assert.NotEmpty(DeliverAllButSnapshots(h)); // the snapshot is lost
        Assert.Equal(ProgressState.Snapshot, h[1].ProgressOf(3)!.State);
        h.Tick(1);
        Assert.Empty(DeliverAllButSnapshots(h)); // paused: no second snapshot while one is in flight

        h[1].ReportSnapshot(3, success: false);
        h.Tick(1);
        var again = DeliverAllButSnapshots(h);

        Assert.NotEmpty(again);
        // etcd's ReportSnapshot(failure): back to probing, which finds the entries still compacted and sends the snapshot again
    }

    [Fact]
    public void Restart_CompactedStorageWithoutRestoredState_Throws()
    {
        var (h, _) = LaggingFollower();
        var config = h.Config(1, h.InitialVoters);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RaftNode(config, h.Storage[1], new FixedRaftRandom(15), appliedIndex: 0));

        Assert.Contains("snapshot", error.Message);
    }

    [Fact]
    public void Restart_FromSnapshotAndTail_CommitAtLeastSnapshotAndAppliesOnlyTheTail()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        for (var i = 0; i < 3; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
            h.DeliverAll();
        }

        var snapshot = h.SnapshotAndCompact(2, margin: 1);
        h.Storage[2].SetHardState(h.Storage[2].InitialHardState with { Commit = 0 }); // commit-only states are written lazily

        var node = h.Restart(2);

        Assert.Equal(snapshot.Index, node.CommitIndex);
        Assert.Equal(snapshot.Index, node.AppliedIndex);
        Assert.Equal(snapshot.Index, node.FirstIndex); // the margin keeps one entry behind the snapshot
        Assert.False(node.HasReady && node.GetReady().CommittedEntries.Count > 0);
        // Raft §7: a restarted server loads its snapshot and replays only the log after it
    }
}
