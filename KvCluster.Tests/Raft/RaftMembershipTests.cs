using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>Single-server membership changes (Raft thesis chapter 4) and learners, driven directly on the core.</summary>
public sealed class RaftMembershipTests
{
    internal static ProposeResult Change(RaftHarness h, ulong leader, ConfigChange change, bool deliver = true)
    {
        var result = h[leader].ProposeConfigChange(change);
        Assert.Equal(ProposeStatus.Accepted, result.Status);
        if (deliver)
        {
            h.DeliverAll();
        }

        return result;
    }

    /// <summary>Three founding voters led by node 1 and node 4 joined as a learner.</summary>
    internal static RaftHarness WithLearner(Func<RaftConfig, RaftConfig>? configure = null)
    {
        var h = new RaftHarness(3, configure);
        h.Elect(1);
        h.AddJoiner(4);
        Change(h, 1, ConfigChange.AddLearner(4));
        return h;
    }

    [Fact]
    public void AddLearner_Committed_LearnerReceivesTheWholeLogAndItsConfiguration()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("before"));
        h.DeliverAll();
        h.AddJoiner(4);

        var result = Change(h, 1, ConfigChange.AddLearner(4));
        h[1].Propose(RaftHarness.Cmd("after"));
        h.DeliverAll();

        Assert.Equal(new ulong[] { 1, 2, 3 }, h[1].Membership.Voters);
        Assert.Equal(new ulong[] { 4 }, h[1].Membership.Learners);
        Assert.Equal(result.Index, h[4].MembershipIndex);
        Assert.Equal(new ulong[] { 4 }, h[4].Membership.Learners);
        Assert.Equal(h[1].LogEntries(1).Select(e => (e.Index, e.Term)), h[4].LogEntries(1).Select(e => (e.Index, e.Term)));
        Assert.Equal(new[] { "before", "after" }, h.AppliedCommands(4));
        Assert.Equal(h[1].LastIndex, h[1].MatchIndex(4));
        // Raft thesis §4.2.1: a new server first catches up as a non-voting member
    }

    [Fact]
    public void Learner_LeaderTicks_ReceivesHeartbeats()
    {
        var h = WithLearner();

        h.Tick(1);
        var heartbeats = h.Take<Heartbeat>(from: 1);

        Assert.Equal(new ulong[] { 2, 3, 4 }, heartbeats.Select(m => m.To).Order());
        // Raft §5.2 heartbeats go to every member; thesis §4.2.1
    }

    [Fact]
    public void Learner_ElectionTimeoutElapses_NeverCampaigns()
    {
        var h = WithLearner();
        h.Isolated.Add(1);

        for (var i = 0; i < 5 * RaftHarness.MaxTimeout; i++)
        {
            h.Tick(4);
            h.DeliverAll();
        }

        h[4].Campaign();
        h.DeliverAll();

        Assert.Equal(RaftRole.Follower, h[4].Role);
        Assert.Equal(1, h[4].Term);
        Assert.Equal(1, h[2].Term);
        // Raft thesis §4.2.1: non-voting members do not start elections
    }

    [Fact]
    public void Candidate_VoteFromLearner_NotRequestedAndNotCounted()
    {
        var h = WithLearner(c => c with { PreVote = false, CheckQuorum = false });
        h.Take();

        h[2].Campaign();
        var requests = h.Take<RequestVote>(from: 2);
        h[2].Step(new RequestVoteResult(4, 2, h[2].Term, PreVote: false, Granted: true));

        Assert.Equal(new ulong[] { 1, 3 }, requests.Select(r => r.To).Order());
        Assert.Equal(RaftRole.Candidate, h[2].Role);
        // Raft thesis §4.2.1: learners are not counted in elections
    }

    [Fact]
    public void Leader_OnlyLearnerAcknowledges_DoesNotCommit()
    {
        var h = WithLearner();
        h.Isolated.UnionWith([2, 3]);
        var commit = h[1].CommitIndex;

        var result = h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();

        Assert.Equal(result.Index, h[1].MatchIndex(4));
        Assert.Equal(commit, h[1].CommitIndex);
        // Raft thesis §4.2.1: learners do not count toward the commit majority
    }

    [Fact]
    public void Leader_OnlyLearnerAcknowledgesReadRound_ReadNotReleased()
    {
        var h = WithLearner();
        h.Isolated.UnionWith([2, 3]);

        h[1].ReadIndex(7);
        h.DeliverAll();

        Assert.Empty(h.Reads[1]);
        // Raft thesis §4.2.1, §6.4: a ReadIndex round needs a majority of voters
    }

    [Fact]
    public void Leader_CheckQuorumWithOnlyLearnerActive_StepsDown()
    {
        var h = WithLearner(c => c with { CheckQuorum = true });
        h.Isolated.UnionWith([2, 3]);

        // The first check after the partition still sees the voters' earlier answers; the second must not.
        for (var i = 0; i < 2 * RaftHarness.MinTimeout + 1; i++)
        {
            h.Tick(1);
            h.Tick(4);
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Follower, h[1].Role);
        // Raft thesis §4.2.1, §6.2: learners do not keep a leader in office
    }

    [Fact]
    public void ProposeConfigChange_EarlierChangeUncommitted_Dropped()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.UnionWith([2, 3]);
        Change(h, 1, ConfigChange.AddLearner(4));

        var second = h[1].ProposeConfigChange(ConfigChange.AddLearner(5));

        Assert.Equal(ProposeStatus.Dropped, second.Status);
        Assert.Contains("not committed", second.Reason);
        // Raft thesis §4.1: one single-server change at a time
    }

    [Fact]
    public void ProposeConfigChange_EarlierChangeCommitted_Accepted()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.AddJoiner(4);
        h.AddJoiner(5);
        Change(h, 1, ConfigChange.AddLearner(4));

        Change(h, 1, ConfigChange.AddLearner(5));

        Assert.Equal(new ulong[] { 4, 5 }, h[2].Membership.Learners);
        // Raft thesis §4.1
    }

    [Fact]
    public void ProposeConfigChange_LeaderHasNotCommittedInItsTerm_Dropped()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false });
        h[1].Campaign();
        h.DeliverAll(drop: m => m is AppendEntriesResult);
        Assert.Equal(RaftRole.Leader, h[1].Role);

        var result = h[1].ProposeConfigChange(ConfigChange.AddLearner(4));

        Assert.Equal(ProposeStatus.Dropped, result.Status);
        // Raft thesis §4.1 (single-server change bug, raft-dev 2015): commit an entry of the term first
    }

    [Theory]
    [InlineData(ConfigChangeType.AddLearner, 2UL, "already a voter")]
    [InlineData(ConfigChangeType.PromoteLearner, 9UL, "not a learner")]
    [InlineData(ConfigChangeType.RemoveServer, 9UL, "not a member")]
    public void ProposeConfigChange_DoesNotApplyToConfiguration_Rejected(ConfigChangeType type, ulong node, string reason)
    {
        var h = new RaftHarness(3);
        h.Elect(1);

        var result = h[1].ProposeConfigChange(new ConfigChange(type, node));

        Assert.Equal(ProposeStatus.Rejected, result.Status);
        Assert.Contains(reason, result.Reason);
    }

    [Fact]
    public void ProposeConfigChange_RemoveOnlyVoter_Rejected()
    {
        var h = new RaftHarness(1);
        h.Elect(1);

        var result = h[1].ProposeConfigChange(ConfigChange.RemoveServer(1));

        Assert.Equal(ProposeStatus.Rejected, result.Status);
        Assert.Contains("only voter", result.Reason);
    }

    [Fact]
    public void ProposeConfigChange_OnFollower_NotLeaderWithHint()
    {
        var h = new RaftHarness(3);
        h.Elect(1);

        var result = h[2].ProposeConfigChange(ConfigChange.AddLearner(4));

        Assert.Equal(ProposeStatus.NotLeader, result.Status);
        Assert.Equal(1UL, result.LeaderHint);
    }

    [Fact]
    public void ConfigChange_Appended_TakesEffectBeforeCommit()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.UnionWith([2, 3]);

        var result = Change(h, 1, ConfigChange.AddLearner(4));

        Assert.True(h[1].CommitIndex < result.Index);
        Assert.Equal(new ulong[] { 4 }, h[1].Membership.Learners);
        Assert.Equal(result.Index, h[1].MembershipIndex);
        // Raft thesis §4.1: a server uses the latest configuration in its log, committed or not
    }

    [Fact]
    public void Follower_UncommittedChangeTruncated_RevertsToPreviousConfiguration()
    {
        var h = new RaftHarness(5, c => c with { PreVote = false, CheckQuorum = false });
        h.Elect(1);
        h.AddJoiner(6);
        Change(h, 1, ConfigChange.AddLearner(6));
        var committed = h[1].MembershipIndex;

        // Node 1 appends a second change and replicates it to node 2 only, then is cut off.
        h.Isolated.UnionWith([3, 4, 5, 6]);
        var uncommitted = Change(h, 1, ConfigChange.PromoteLearner(6));
        Assert.Equal(uncommitted.Index, h[2].MembershipIndex);
        h.Isolated.Clear();
        h.Isolated.UnionWith([1, 2]);
        h.Elect(3);
        h.Isolated.Clear();
        h.Tick(3);
        h.DeliverAll();

        Assert.NotEqual(h[1].Term, uncommitted.Term);
        foreach (var id in new ulong[] { 1, 2 })
        {
            Assert.Equal(committed, h[id].MembershipIndex);
            Assert.Equal(new ulong[] { 1, 2, 3, 4, 5 }, h[id].Membership.Voters);
            Assert.Equal(new ulong[] { 6 }, h[id].Membership.Learners);
        }

        // Raft thesis §4.1: when a configuration entry is truncated, the server falls back to the previous one
    }

    [Fact]
    public void Restart_AfterChanges_RecoversConfigurationFromLog()
    {
        var h = WithLearner();
        var promoted = Change(h, 1, ConfigChange.PromoteLearner(4));

        var node2 = h.Restart(2);
        var node4 = h.Restart(4);

        foreach (var node in new[] { node2, node4 })
        {
            Assert.Equal(promoted.Index, node.MembershipIndex);
            Assert.Equal(new ulong[] { 1, 2, 3, 4 }, node.Membership.Voters);
            Assert.Empty(node.Membership.Learners);
        }

        // Raft thesis §4.1: configuration entries are log entries and survive restarts
    }

    [Fact]
    public void Restart_UncommittedChangeLaterTruncated_RevertsAfterRecovery()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false, CheckQuorum = false });
        h.Elect(1);
        h.AddJoiner(4);
        Change(h, 1, ConfigChange.AddLearner(4));
        var committed = h[1].MembershipIndex;
        h.Isolated.UnionWith([2, 3]);
        Change(h, 1, ConfigChange.PromoteLearner(4));

        h.Restart(1);
        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, h[1].Membership.Voters);
        h.Isolated.Clear();
        h.Isolated.Add(1);
        h.Elect(2);
        h.Isolated.Clear();
        h.Tick(2);
        h.DeliverAll();

        Assert.Equal(committed, h[1].MembershipIndex);
        Assert.Equal(new ulong[] { 1, 2, 3 }, h[1].Membership.Voters);
        // Raft thesis §4.1: the recovered configuration is the latest in the log and reverts like any other
    }

    [Fact]
    public void PromoteLearner_Committed_NodeCanBeElected()
    {
        var h = WithLearner(c => c with { PreVote = false, CheckQuorum = false });
        Change(h, 1, ConfigChange.PromoteLearner(4));
        h.Isolated.Add(1);

        h.Elect(4);

        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, h[4].Membership.Voters);
        // Raft thesis §4.2.1: once caught up, the new server becomes a voting member
    }

    [Fact]
    public void Follower_LeaderAddedAfterItsLastEntry_AcceptsVotesAndEntries()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false, CheckQuorum = false });
        h.Elect(1);
        h.AddJoiner(4);
        h.Isolated.Add(2);
        Change(h, 1, ConfigChange.AddLearner(4));
        Change(h, 1, ConfigChange.PromoteLearner(4));
        Change(h, 1, ConfigChange.RemoveServer(3));
        Assert.Empty(h[2].Membership.Learners);

        // Voters are now {1, 2, 4}; node 1 fails, node 2 still only knows the bootstrap configuration {1, 2, 3}.
        h.Isolated.Clear();
        h.Isolated.UnionWith([1, 3]);
        h.Elect(4);
        h.Tick(4);
        h.DeliverAll();

        Assert.Equal(new ulong[] { 1, 2, 4 }, h[2].Membership.Voters);
        Assert.Equal(4UL, h[2].Leader);
        // Raft thesis §4.1: configuration is learned from the log, so a lagging server must listen to a leader it does not know yet
    }

    [Fact]
    public void Learner_LeaderGoesQuiet_LeaseExpiresSoPreVoteGranted()
    {
        var h = WithLearner();
        h.Isolated.Add(1);
        h.Tick(4, RaftHarness.MaxTimeout); // past its election timeout, which it does not act on

        var last = h[2].LogEntries(1)[^1];
        h[4].Step(new RequestVote(2, 4, h[4].Term + 1, last.Index, last.Term, PreVote: true, LeadershipTransfer: false));
        var reply = h.Take<RequestVoteResult>(from: 4).Single();

        Assert.True(reply.Granted);
        // Raft thesis §4.2.3, §9.6: the lease lasts an election timeout after the leader was last heard, then ends
    }

    [Fact]
    public void TransferLeadership_ToLearner_Dropped()
    {
        var h = WithLearner();

        var result = h[1].TransferLeadership(4);

        Assert.Equal(ProposeStatus.Dropped, result.Status);
        // Raft thesis §3.10, §4.2.1: only voters can lead
    }
}
