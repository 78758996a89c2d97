using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>The Ready/Advance contract: persist before send, exactly-once apply, restarts from durable state.</summary>
public sealed class RaftReadyTests
{
    [Fact]
    public void Ready_GrantedVote_ReleasedOnlyAfterPersistWithTheVote()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false });

        h[1].Step(new RequestVote(2, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false));
        var ready = h[1].GetReady();

        Assert.Equal(new HardState(1, 2, 0), ready.HardState);
        Assert.True(ready.MustSync);
        Assert.Empty(ready.Messages);
        Assert.True(Assert.IsType<RequestVoteResult>(Assert.Single(ready.MessagesAfterPersist)).Granted);
        // Raft Figure 2, "Persistent state on all servers: updated on stable storage before responding to RPCs"
    }

    [Fact]
    public void Ready_LeaderAppends_SentBeforePersistButCountedOnlyAfterAdvance()
    {
        var h = new RaftHarness(1);
        h.Elect(1);

        h[1].Propose(RaftHarness.Cmd("x"));
        var ready = h[1].GetReady();
        h.Storage[1].Persist(ready);

        Assert.Single(ready.Entries);
        Assert.Equal(1, h[1].CommitIndex); // not durable in the core's view until Advance
        h[1].Advance(ready);
        Assert.Equal(2, h[1].CommitIndex);
        // Thesis §10.2.1: the leader may send before its own write completes, but counts itself only once durable
    }

    [Fact]
    public void Ready_OnlyTheCommitIndexMoved_NeedNotSync()
    {
        var h = new RaftHarness(1);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        var append = h[1].GetReady();
        h.Storage[1].Persist(append);
        h[1].Advance(append);

        var commit = h[1].GetReady();

        Assert.True(append.MustSync);
        Assert.Empty(commit.Entries);
        Assert.Equal(2, commit.HardState?.Commit);
        Assert.Equal(new[] { "x" }, commit.CommittedEntries.Select(RaftHarness.Text));
        Assert.True(commit.MustPersist);
        Assert.False(commit.MustSync);
        // etcd's MustSync; Raft Figure 2 lists commitIndex under volatile state
    }

    [Fact]
    public void Ready_CommittedEntries_HandedOutExactlyOnce()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("a"));
        h.DeliverAll();
        h[1].Propose(RaftHarness.Cmd("b"));
        h.DeliverAll();
        h.TickAll(3);
        h.DeliverAll();

        Assert.All(h.Nodes.Keys, id => Assert.Equal(new[] { "a", "b" }, h.AppliedCommands(id)));
        Assert.All(h.Nodes.Keys, id => Assert.Equal(new long[] { 1, 2, 3 }, h.Applied[id].Select(e => e.Index)));
        // Raft Figure 2, Rules for Servers, All Servers: increment lastApplied, apply log[lastApplied]
    }

    [Fact]
    public void Ready_ARestartWithManyCommittedEntries_HandsThemOutInBatchesOfTheConfiguredSize()
    {
        var h = new RaftHarness(3, c => c with { MaxCommittedEntriesPerReady = 3 });
        h.Elect(1);
        for (var i = 0; i < 7; i++)
        {
            h[1].Propose(RaftHarness.Cmd($"c{i}"));
        }

        h.DeliverAll();
        h.TickAll(3);
        h.DeliverAll();
        Assert.Equal(8, h[2].CommitIndex); // the leader's empty entry and the seven commands

        // Restarted from its storage with nothing applied: the eight committed entries come 3, 3, 2.
        var node = h.Restart(2);
        var batches = new List<long[]>();
        while (node.HasReady)
        {
            var ready = node.GetReady();
            h.Storage[2].Persist(ready);
            batches.Add(ready.CommittedEntries.Select(e => e.Index).ToArray());
            node.Advance(ready);
        }

        Assert.Equal(new[] { new long[] { 1, 2, 3 }, new long[] { 4, 5, 6 }, new long[] { 7, 8 } }, batches);
        // etcd's MaxCommittedSizePerReady: the driver may step votes and ticks between the batches
    }

    [Fact]
    public void GetReady_PreviousNotAdvanced_Throws()
    {
        var h = new RaftHarness(3);
        h[1].Campaign();
        h[1].GetReady();

        Assert.False(h[1].HasReady);
        Assert.Throws<InvalidOperationException>(() => h[1].GetReady());
    }

    [Fact]
    public void Advance_ReadyNotOutstanding_Throws()
    {
        var h = new RaftHarness(3);
        h[1].Campaign();
        var ready = h[1].GetReady();
        h[1].Advance(ready);

        Assert.Throws<InvalidOperationException>(() => h[1].Advance(ready));
    }

    [Fact]
    public void Step_MessageForAnotherNode_ThrowsNamingIt()
    {
        var h = new RaftHarness(3);

        var ex = Assert.Throws<ArgumentException>(() => h[1].Step(new Heartbeat(2, 3, 1, 0, 0)));

        Assert.Contains("node 3", ex.Message);
    }

    [Fact]
    public void Step_LeaderOutsideItsConfiguration_Accepted()
    {
        var h = new RaftHarness(3);

        h[1].Step(new AppendEntries(9, 1, 5, 0, 0, [], 0));

        // A follower may lag behind the configuration that added its new leader (a promoted learner); dropping the
        // leader's messages would strand it. Removed servers are contained by PreVote and the lease instead.
        Assert.Equal(5, h[1].Term);
        Assert.Equal(9UL, h[1].Leader);
        // Raft thesis §4.1, §4.2.3
    }

    [Fact]
    public void Restart_AfterVoting_KeepsTermAndVoteSoCannotVoteTwice()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false });
        h[1].Step(new RequestVote(2, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false));
        h.ProcessAll();
        h.Take();

        h.Restart(1);
        h[1].Step(new RequestVote(3, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false));

        Assert.Equal((1L, 2UL), (h[1].Term, h[1].Vote));
        Assert.False(Assert.Single(h.Take<RequestVoteResult>(from: 1)).Granted);
        // Raft Figure 2: currentTerm and votedFor are persistent; §5.2 at most one vote per term across crashes
    }

    [Fact]
    public void Restart_BeforePersisting_LosesUnpersistedEntriesOnly()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("durable"));
        h.DeliverAll();
        h[1].Propose(RaftHarness.Cmd("lost"));

        h.Restart(1);

        Assert.Equal(2, h[1].LastIndex); // the no-op and "durable"; "lost" never reached storage
        Assert.Equal(2, h[1].CommitIndex);
    }

    [Fact]
    public void Constructor_StorageCommitBeyondLastEntry_ThrowsNamingTheProblem()
    {
        var storage = new MemoryRaftStorage();
        storage.SetHardState(new HardState(1, 0, 5));

        var ex = Assert.Throws<InvalidOperationException>(() =>
            new RaftNode(new RaftConfig { NodeId = 1, Voters = [1] }, storage, new FixedRaftRandom(10)));

        Assert.Contains("commits index 5", ex.Message);
    }
}
