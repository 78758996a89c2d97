using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

/// <summary>Linearizable reads with ReadIndex (thesis §6.4).</summary>
public sealed class RaftReadIndexTests
{
    [Fact]
    public void Leader_ReadIndex_ReleasedAfterHeartbeatQuorumAtCommitIndex()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();

        h[1].ReadIndex(42);
        var heartbeats = h.Take<Heartbeat>(from: 1);
        Assert.Empty(h.Reads[1]);
        Assert.All(heartbeats, hb => Assert.NotEqual(0UL, hb.ReadRound));
        h.Deliver(heartbeats.Where(hb => hb.To == 2));
        h.Deliver(h.Take<HeartbeatResult>());
        h.ProcessAll();

        var read = Assert.Single(h.Reads[1]);
        Assert.Equal(new ReadState(2, 42), read);
        // Thesis §6.4: the leader records its commit index, confirms leadership with a heartbeat round, then serves
    }

    [Fact]
    public void Leader_ReadsDuringAnUnconfirmedRound_WaitForIt_ThenShareOneRound()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.DeliverAll();

        h[1].ReadIndex(1);
        var first = h.Take<Heartbeat>(from: 1);
        h[1].ReadIndex(2);
        h[1].ReadIndex(3);
        var whileInFlight = h.Take<Heartbeat>(from: 1);
        h.Deliver(first);
        h.Deliver(h.Take<HeartbeatResult>());
        var second = h.Take<Heartbeat>(from: 1);
        h.Deliver(second);
        h.Deliver(h.Take<HeartbeatResult>());
        h.ProcessAll();

        Assert.Equal(2, first.Count);
        Assert.Empty(whileInFlight);
        Assert.Equal(2, second.Count);
        Assert.All(second, hb => Assert.Equal(first[0].ReadRound + 1, hb.ReadRound));
        Assert.Equal([1UL, 2UL, 3UL], h.Reads[1].Select(r => r.Context));
        // One read round in flight at a time (etcd's read loop): reads arriving meanwhile share the next round, which
        // starts once a quorum confirmed the first; each read's index was recorded at its arrival (thesis §6.4)
    }

    [Fact]
    public void Leader_ReadIndexWithoutQuorumAcknowledgement_NotReleased()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h.Isolated.Add(2);
        h.Isolated.Add(3);

        h[1].ReadIndex(7);
        h.DeliverAll();
        h.Tick(1, 3);
        h.DeliverAll();

        Assert.Empty(h.Reads[1]);
        // Thesis §6.4: a deposed leader (no quorum) must not serve a read
    }

    [Fact]
    public void Leader_ReadIndexBeforeCommittingInItsTerm_WaitsForNoOpCommit()
    {
        var h = new RaftHarness(3);
        var appends = new List<RaftMessage>();
        h[1].Campaign();
        h.DeliverAll(drop: m =>
        {
            if (m is AppendEntries)
            {
                appends.Add(m);
                return true;
            }

            return false;
        });
        Assert.Equal(RaftRole.Leader, h[1].Role);

        h[1].ReadIndex(9);
        h.ProcessAll();
        Assert.Empty(h.Outbox.OfType<Heartbeat>());
        h.Deliver(appends);
        h.DeliverAll();

        Assert.Equal(new ReadState(1, 9), Assert.Single(h.Reads[1]));
        // Thesis §6.4 step 1: the leader must first commit an entry of its own term (the no-op)
    }

    [Fact]
    public void Follower_ReadIndex_ForwardedToLeaderAndServedAfterApplying()
    {
        var h = new RaftHarness(3);
        h.Elect(1);
        h[1].Propose(RaftHarness.Cmd("x"));
        h.ProcessAll();
        h.DeliverAll(drop: m => m.To == 3 && m is AppendEntries); // node 3 lags behind the commit index

        var result = h[3].ReadIndex(5);
        var forwarded = Assert.Single(h.Take<ReadIndexRequest>(from: 3));
        h[1].Step(forwarded);
        h.DeliverAll(drop: m => m.To == 3 && m is AppendEntries);

        Assert.Equal(ProposeStatus.Accepted, result.Status);
        Assert.Empty(h.Reads[3]); // confirmed at index 2, but node 3 has not applied index 2
        h.Tick(1);
        h.DeliverAll();
        Assert.Equal(new ReadState(2, 5), Assert.Single(h.Reads[3]));
        Assert.True(h[3].AppliedIndex >= 2);
        // Thesis §6.4: a follower asks the leader for the read index and serves once its state machine has applied it
    }

    [Fact]
    public void SingleNode_ReadIndex_ServedWithoutHeartbeats()
    {
        var h = new RaftHarness(1);
        h.Elect(1);

        h[1].ReadIndex(3);
        h.ProcessAll();

        Assert.Equal(new ReadState(1, 3), Assert.Single(h.Reads[1]));
        // Thesis §6.4: with one voter the leader is its own quorum
    }

    [Fact]
    public void Candidate_ReadIndex_ReturnsNotLeader()
    {
        var h = new RaftHarness(3);
        h[1].Campaign();

        Assert.Equal(ProposeStatus.NotLeader, h[1].ReadIndex(1).Status);
    }
}
