using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>Removing servers, the leader included (Raft thesis §4.2.2, §4.2.3), driven directly on the core.</summary>
public sealed class RaftRemovalTests
{
    private static ProposeResult Change(RaftHarness h, ulong leader, ConfigChange change, bool deliver = true) =>
        RaftMembershipTests.Change(h, leader, change, deliver);

    [Fact]
    public void RemoveServer_LeaderRemovesItself_KeepsReplicatingThenStepsDownOnCommit()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(3);

        var removal = Change(h, 1, ConfigChange.RemoveServer(1));

        // Committing {2, 3} needs both of them: node 1 no longer counts itself (thesis §4.2.2), so it still leads.
        Assert.True(h[1].CommitIndex < removal.Index);
        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(ProposeStatus.Accepted, h[1].Propose(RaftHarness.Cmd("still leading")).Status);

        h.Isolated.Clear();
        h.Tick(1);
        h.DeliverAll();

        Assert.True(h[1].CommitIndex >= removal.Index);
        Assert.NotEqual(RaftRole.Leader, h[1].Role);
        var leader = new ulong[] { 2, 3 }.Single(id => h[id].Role == RaftRole.Leader);
        Assert.Equal(new ulong[] { 2, 3 }, h[leader].Membership.Voters.Order());
        Assert.Contains("still leading", h.AppliedCommands(leader));
        // Raft thesis §4.2.2: a removed leader steps down once C_new is committed; TimeoutNow hands over (§3.10)
    }

    [Fact]
    public void RemoveServer_LeaderLosesLeadershipBeforeRemovalCommits_WinsAgainCommitsAndStepsDown()
    {
        // {1, 2} -> {2} with the entry only on node 1: node 2 cannot win without node 1's vote, and node 1 holds the
        // more up-to-date log, so node 1 must be allowed to campaign although its latest configuration excludes it.
        var h = new RaftHarness(2);
        h.Elect(1);
        h.Isolated.Add(2);
        var removal = Change(h, 1, ConfigChange.RemoveServer(1));
        for (var i = 0; i < 2 * RaftHarness.MinTimeout + 1; i++)
        {
            h.Tick(1);
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Follower, h[1].Role); // CheckQuorum: node 2 was silent

        h.Isolated.Clear();
        for (var i = 0; i < 6 * RaftHarness.MaxTimeout && h[2].Role != RaftRole.Leader; i++)
        {
            h.TickAll();
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Leader, h[2].Role);
        Assert.Equal(new ulong[] { 2 }, h[2].Membership.Voters);
        Assert.True(h[2].CommitIndex >= removal.Index);
        Assert.NotEqual(RaftRole.Leader, h[1].Role);
        // Raft thesis §4.2.2; votes are still counted in the latest configuration (§4.1)
    }

    [Fact]
    public void RemovedLeader_AfterSteppingDown_NeverCampaigns()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        Change(h, 1, ConfigChange.RemoveServer(1));
        h.Tick(1);
        h.DeliverAll();
        var term = h[1].Term;

        h.Isolated.Add(1);
        for (var i = 0; i < 5 * RaftHarness.MaxTimeout; i++)
        {
            h.Tick(1);
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Follower, h[1].Role);
        Assert.Equal(term, h[1].Term);
        // Raft thesis §4.2.2
    }

    [Fact]
    public void RemovedServer_TimesOutWithoutLearningOfRemoval_DoesNotRaiseTermsOfMembers()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(3);
        Change(h, 1, ConfigChange.RemoveServer(3));
        Assert.Equal(new ulong[] { 1, 2, 3 }, h[3].Membership.Voters); // it never saw the change
        var term = h[1].Term;

        h.Isolated.Clear();
        for (var i = 0; i < 10 * RaftHarness.MaxTimeout; i++)
        {
            h.TickAll();
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(term, h[1].Term);
        Assert.Equal(term, h[2].Term);
        Assert.Equal(1UL, h[2].Leader);
        // Raft thesis §4.2.3: PreVote and the leader lease keep a removed server from disrupting the cluster
    }

    [Fact]
    public void RemoveServer_LaggingVoterRemoved_SmallerQuorumCommits()
    {
        var h = new RaftHarness(4);
        h.Elect(1);
        h.Isolated.UnionWith([3, 4]);
        var pending = h[1].Propose(RaftHarness.Cmd("needs 3 of 4"));
        h.DeliverAll();
        Assert.True(h[1].CommitIndex < pending.Index);

        var removal = Change(h, 1, ConfigChange.RemoveServer(4));

        Assert.True(h[1].CommitIndex >= removal.Index);
        Assert.Contains("needs 3 of 4", h.AppliedCommands(1));
        // Raft thesis §4.1: the new configuration's majority decides as soon as it is in the log
    }
}
