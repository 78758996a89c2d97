using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>PreVote, CheckQuorum, leader lease and leadership transfer (thesis §3.10, §4.2.3, §6.2, §9.6).</summary>
public sealed class RaftPreVoteCheckQuorumTests
{
    [Fact]
    public void PreCandidate_OnTimeout_AsksWithNextTermWithoutChangingItsOwn()
    {
        var h = new RaftHarness(3);

        h.Tick(1, RaftHarness.MaxTimeout - 1);
        var requests = h.Take<RequestVote>(from: 1);

        Assert.Equal(RaftRole.PreCandidate, h[1].Role);
        Assert.Equal(0, h[1].Term);
        Assert.Equal(0UL, h[1].Vote);
        Assert.All(requests, r => Assert.True(r.PreVote && r.Term == 1));
        // Thesis §9.6: a pre-candidate does not increment its term
    }

    [Fact]
    public void PreVote_MajorityGranted_ThenRealElectionWins()
    {
        var h = new RaftHarness(3);

        h[1].Campaign();
        h.DeliverAll();

        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(1, h[1].Term);
        Assert.All(h.Nodes.Values, n => Assert.Equal(1, n.Term));
        // Thesis §9.6: after winning a pre-vote the node runs a normal election
    }

    [Fact]
    public void PreVote_VoterHeardFromLeaderRecently_Refuses()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Take();

        h[3].Step(new RequestVote(2, 3, 2, 100, 1, PreVote: true, LeadershipTransfer: false));

        Assert.DoesNotContain(h.Take<RequestVoteResult>(from: 3), r => r.Granted);
        Assert.Equal(1, h[3].Term);
        // Thesis §9.6: grant a pre-vote only if no leader was heard within the election timeout
    }

    [Fact]
    public void PreVote_CandidateLogBehind_Refused()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();
        h.Tick(3, RaftHarness.MaxTimeout); // node 3 no longer hears from a leader...
        h.Take();

        h[3].Step(new RequestVote(2, 3, 2, 1, 1, PreVote: true, LeadershipTransfer: false)); // ...but node 2's log is behind

        Assert.False(Assert.Single(h.Take<RequestVoteResult>(from: 3)).Granted);
        // Thesis §9.6: a pre-vote also requires the candidate's log to be up to date (§5.4.1)
    }

    [Fact]
    public void PreVote_PartitionedNodeRejoins_DoesNotDisruptLeader()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(3);
        for (var i = 0; i < 5 * RaftHarness.MaxTimeout; i++)
        {
            h.TickAll();
            h.DeliverAll();
        }

        Assert.Equal(1, h[3].Term); // pre-votes failed: its term did not run away
        h.Isolated.Clear();
        for (var i = 0; i < 3 * RaftHarness.MaxTimeout; i++)
        {
            h.TickAll();
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(1, h[1].Term);
        // Thesis §9.6: PreVote keeps a rejoining partitioned server from disrupting the cluster
    }

    [Fact]
    public void Leader_NoMajorityHeardWithinElectionTimeout_StepsDown()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(2);
        h.Isolated.Add(3);

        for (var i = 0; i < 2 * RaftHarness.MinTimeout; i++)
        {
            h.Tick(1);
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Follower, h[1].Role);
        Assert.Equal(ProposeStatus.NotLeader, h[1].Propose(RaftHarness.Cmd("x")).Status);
        // Thesis §6.2 / §9.6: CheckQuorum, a leader that cannot reach a majority steps down
    }

    [Fact]
    public void Leader_MajorityActive_KeepsLeadership()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(3);

        for (var i = 0; i < 5 * RaftHarness.MinTimeout; i++)
        {
            h.Tick(1);
            h.Tick(2);
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Leader, h[1].Role);
        // Thesis §6.2: CheckQuorum keeps a leader that hears from a majority (itself and node 2)
    }

    [Fact]
    public void Follower_InLeaderLease_IgnoresHigherTermRequestVote()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false });
        h.Elect(1);
        h.Take();

        h[2].Step(new RequestVote(3, 2, 5, 100, 5, PreVote: false, LeadershipTransfer: false));

        Assert.Equal(1, h[2].Term);
        Assert.Equal(1UL, h[2].Leader);
        Assert.Empty(h.Take<RequestVoteResult>(from: 2));
        // Thesis §4.2.3: a server that heard from a leader within the minimum election timeout ignores RequestVote
    }

    [Fact]
    public void Follower_LeaseExpired_GrantsHigherTermRequestVote()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false });
        h.Elect(1);
        h.Tick(2, RaftHarness.MinTimeout);
        h.Take();

        h[2].Step(new RequestVote(3, 2, 5, 100, 5, PreVote: false, LeadershipTransfer: false));

        Assert.Equal(5, h[2].Term);
        Assert.True(Assert.Single(h.Take<RequestVoteResult>(from: 2)).Granted);
        // Thesis §4.2.3: the lease lasts only the minimum election timeout
    }

    [Fact]
    public void LeadershipTransfer_TargetUpToDate_BecomesLeaderDespiteLeases()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();

        var result = h[1].TransferLeadership(2);
        h.DeliverAll();

        Assert.Equal(ProposeStatus.Accepted, result.Status);
        Assert.Equal(RaftRole.Leader, h[2].Role);
        Assert.Equal(2, h[2].Term);
        Assert.Equal(RaftRole.Follower, h[1].Role);
        // Thesis §3.10: leadership transfer with TimeoutNow; the vote overrides leader leases (§4.2.3)
    }

    [Fact]
    public void LeadershipTransfer_InProgress_DropsProposals()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.ProcessAll(); // node 2 has not acknowledged "x" yet, so the transfer waits

        h[1].TransferLeadership(2);
        var result = h[1].Propose(RaftHarness.Cmd("y"));

        Assert.Equal(ProposeStatus.Dropped, result.Status);
        Assert.Contains("transferred", result.Reason);
        // Thesis §3.10: the old leader stops accepting client requests during a transfer
    }

    [Fact]
    public void LeadershipTransfer_TargetUnreachable_AbortedAfterElectionTimeout()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(2);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();

        h[1].TransferLeadership(2);
        for (var i = 0; i < RaftHarness.MinTimeout; i++)
        {
            h.Tick(1);
            h.Tick(3);
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(ProposeStatus.Accepted, h[1].Propose(RaftHarness.Cmd("y")).Status);
        // Thesis §3.10: a transfer that does not complete within an election timeout is aborted
    }
}
