using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>Leader election rules of Raft Figure 2 and §5.2, §5.4.1, driven directly on the core.</summary>
public sealed class RaftElectionTests
{
    private static RaftHarness NoPreVote(int n = 3) => new(n, c => c with { PreVote = false, CheckQuorum = false });

    [Fact]
    public void Follower_ElectionTimeoutElapses_BecomesCandidate()
    {
        var h = NoPreVote();

        h.Tick(1, RaftHarness.MaxTimeout - 2);
        Assert.Equal(RaftRole.Follower, h[1].Role);
        h.Tick(1);

        Assert.Equal(RaftRole.Candidate, h[1].Role);
        // Raft Figure 2, Rules for Servers, Followers; §5.2
    }

    [Fact]
    public void Follower_HeartbeatsBeforeTimeout_DoesNotStartElection()
    {
        var h = NoPreVote();
        h.Elect(1);

        for (var i = 0; i < 5 * RaftHarness.MaxTimeout; i++)
        {
            h.TickAll();
            h.DeliverAll();
        }

        Assert.Equal(RaftRole.Leader, h[1].Role);
        Assert.Equal(RaftRole.Follower, h[2].Role);
        Assert.Equal(1, h[2].Term);
        // Raft §5.2: leaders send periodic heartbeats to maintain their authority
    }

    [Fact]
    public void Candidate_OnConversion_IncrementsTermVotesForSelfAndRequestsVotes()
    {
        var h = NoPreVote();

        h[1].Campaign();
        var requests = h.Take<RequestVote>(from: 1);

        Assert.Equal(RaftRole.Candidate, h[1].Role);
        Assert.Equal(1, h[1].Term);
        Assert.Equal(1UL, h[1].Vote);
        Assert.Equal(new ulong[] { 2, 3 }, requests.Select(r => r.To).Order());
        Assert.All(requests, r => Assert.Equal(1, r.Term));
        Assert.Equal(new HardState(1, 1, 0), h.Storage[1].InitialHardState);
        // Raft Figure 2, Rules for Servers, Candidates; §5.2
    }

    [Fact]
    public void Candidate_MajorityVotes_BecomesLeader()
    {
        var h = NoPreVote(5);
        h[1].Campaign();
        var requests = h.Take<RequestVote>(from: 1);

        h.Deliver(requests.Where(r => r.To is 2 or 3));
        h.Deliver(h.Take<RequestVoteResult>());

        Assert.Equal(RaftRole.Leader, h[1].Role);
        // Raft Figure 2, Rules for Servers, Candidates: votes received from majority of servers: become leader; §5.2
    }

    [Fact]
    public void Candidate_AppendEntriesFromLeaderOfSameTerm_BecomesFollower()
    {
        var h = NoPreVote();
        h[2].Campaign();
        h.Take();

        h[2].Step(new AppendEntries(3, 2, 1, 0, 0, [], 0));

        Assert.Equal(RaftRole.Follower, h[2].Role);
        Assert.Equal(3UL, h[2].Leader);
        // Raft Figure 2, Rules for Servers, Candidates: AppendEntries received from new leader: convert to follower; §5.2
    }

    [Fact]
    public void Candidate_ElectionTimeoutElapses_StartsNewElection()
    {
        var h = NoPreVote();
        h[1].Campaign();
        h.Take();

        h.Tick(1, RaftHarness.MaxTimeout - 1);

        Assert.Equal(RaftRole.Candidate, h[1].Role);
        Assert.Equal(2, h[1].Term);
        Assert.Equal(2, h.Take<RequestVote>(from: 1).Count(r => r.Term == 2));
        // Raft Figure 2, Rules for Servers, Candidates: if election timeout elapses, start new election; §5.2
    }

    [Theory]
    [InlineData(RaftRole.Follower)]
    [InlineData(RaftRole.Candidate)]
    [InlineData(RaftRole.Leader)]
    public void AnyRole_MessageWithHigherTerm_AdoptsTermAndBecomesFollower(RaftRole role)
    {
        var h = NoPreVote();
        if (role == RaftRole.Leader)
        {
            h.Elect(1);
        }
        else if (role == RaftRole.Candidate)
        {
            h[1].Campaign();
            h.Take();
        }

        h[1].Step(new AppendEntries(2, 1, 7, 0, 0, [], 0));

        Assert.Equal(RaftRole.Follower, h[1].Role);
        Assert.Equal(7, h[1].Term);
        Assert.Equal(0UL, h[1].Vote);
        // Raft Figure 2, Rules for Servers, All Servers: if term T > currentTerm, set currentTerm = T, convert to follower; §5.1
    }

    [Fact]
    public void RequestVote_StaleTerm_RepliesFalseWithCurrentTerm()
    {
        var h = NoPreVote();
        h[1].Step(new AppendEntries(2, 1, 5, 0, 0, [], 0));
        h.Take();

        h[1].Step(new RequestVote(3, 1, 4, 10, 4, PreVote: false, LeadershipTransfer: false));
        var reply = Assert.Single(h.Take<RequestVoteResult>(from: 1));

        Assert.False(reply.Granted);
        Assert.Equal(5, reply.Term);
        // Raft Figure 2, RequestVote RPC receiver rule 1: reply false if term < currentTerm; §5.1
    }

    [Fact]
    public void RequestVote_NotYetVotedAndLogUpToDate_GrantsAndPersistsVote()
    {
        var h = NoPreVote();

        h[1].Step(new RequestVote(2, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false));
        var reply = Assert.Single(h.Take<RequestVoteResult>(from: 1));

        Assert.True(reply.Granted);
        Assert.Equal(new HardState(1, 2, 0), h.Storage[1].InitialHardState);
        // Raft Figure 2, RequestVote RPC receiver rule 2; §5.2
    }

    [Fact]
    public void RequestVote_AlreadyVotedForAnother_Refuses()
    {
        var h = NoPreVote();
        h[1].Step(new RequestVote(2, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false));
        h.Take();

        h[1].Step(new RequestVote(3, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false));
        var reply = Assert.Single(h.Take<RequestVoteResult>(from: 1));

        Assert.False(reply.Granted);
        Assert.Equal(2UL, h[1].Vote);
        // Raft Figure 2, RequestVote RPC receiver rule 2: at most one vote per term; §5.2 (Election Safety)
    }

    [Fact]
    public void RequestVote_DuplicateFromSameCandidate_GrantsAgain()
    {
        var h = NoPreVote();
        var request = new RequestVote(2, 1, 1, 0, 0, PreVote: false, LeadershipTransfer: false);
        h[1].Step(request);
        h.Take();

        h[1].Step(request);

        Assert.True(Assert.Single(h.Take<RequestVoteResult>(from: 1)).Granted);
        // Raft Figure 2, RequestVote RPC receiver rule 2: votedFor is null or candidateId; §5.2
    }

    [Theory]
    [InlineData(1, 5, false)] // older last term, even with a longer log
    [InlineData(2, 3, true)] // same last term, longer log
    [InlineData(2, 2, true)] // same last term, same length
    [InlineData(2, 1, false)] // same last term, shorter log
    [InlineData(3, 1, true)] // newer last term, even with a shorter log
    public void RequestVote_CandidateLogFreshness_DecidesVote(long candidateLastTerm, long candidateLastIndex, bool granted)
    {
        var h = NoPreVote();
        // The voter's log is (1, term 1), (2, term 2).
        h[1].Step(new AppendEntries(2, 1, 2, 0, 0, [E(1, 1), E(2, 2)], 0));
        h.Take();

        h[1].Step(new RequestVote(3, 1, 9, candidateLastIndex, candidateLastTerm, PreVote: false, LeadershipTransfer: false));
        var reply = Assert.Single(h.Take<RequestVoteResult>(from: 1));

        Assert.Equal(granted, reply.Granted);
        // Raft §5.4.1: vote only for a candidate whose log is at least as up-to-date (Election Restriction)
    }

    [Fact]
    public void Election_RandomizedTimeouts_DrawnFromConfiguredRange()
    {
        var config = new RaftConfig { NodeId = 1, Voters = [1, 2, 3], ElectionTimeoutMinTicks = 10, ElectionTimeoutMaxTicks = 13 };
        var seen = new HashSet<int>();
        for (var seed = 0; seed < 200; seed++)
        {
            var node = new RaftNode(config, new MemoryRaftStorage(), new SeededRaftRandom(seed));
            seen.Add(node.RandomizedElectionTimeout);
        }

        Assert.Equal(new[] { 10, 11, 12 }, seen.Order());
        // Raft §5.2: election timeouts are chosen randomly from a fixed interval
    }

    [Fact]
    public void Election_SplitVote_NextRandomizedTimeoutElectsOneLeader()
    {
        var h = new RaftHarness(3, c => c with { PreVote = false, CheckQuorum = false }, id => 19 - (int)(id * 2));
        // Nodes 1 and 2 campaign at once and split the vote: node 3 hears neither.
        h[1].Campaign();
        h[2].Campaign();
        h.DeliverAll(drop: m => m.To == 3 || m.From == 3);
        Assert.DoesNotContain(h.Nodes.Values, n => n.Role == RaftRole.Leader);

        for (var i = 0; i < 3 * RaftHarness.MaxTimeout && h.Nodes.Values.All(n => n.Role != RaftRole.Leader); i++)
        {
            h.TickAll();
            h.DeliverAll();
        }

        var leader = Assert.Single(h.Nodes.Values, n => n.Role == RaftRole.Leader);
        Assert.True(leader.Term >= 2);
        // Raft §5.2: randomized election timeouts resolve split votes
    }

    private static Entry E(long index, long term) => new(term, index, EntryType.Normal, RaftHarness.Cmd($"{index}@{term}"));
}
