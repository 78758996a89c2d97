using Akka.Actor;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Tests.Raft;

namespace KvCluster.Tests.RaftActor;

/// <summary>Durability rules of the RaftActor: persist before send, stop on a failed write, recover after restart.</summary>
public sealed class RaftActorPersistenceSpecs : RaftActorTestKit
{
    private readonly JournalGate _gate;

    public RaftActorPersistenceSpecs()
        : this($"gate-{Guid.NewGuid():N}")
    {
    }

    private RaftActorPersistenceSpecs(string gateId)
        : base(GatedJournal.Hocon(gateId))
    {
        _gate = GatedJournal.Gates.GetOrAdd(gateId, _ => new JournalGate());
    }

    /// <summary>The gate in front of this system's (in-memory) journal.</summary>
    private JournalGate UseGatedJournal() => _gate;

    protected override void Dispose(bool disposing)
    {
        _gate.Release();
        base.Dispose(disposing);
    }

    private (IActorRef Node, TestProbe Peer) StartVoter() => StartVoter(this);

    /// <summary>Node 2 of {1, 2, 3} whose peer 1 is a probe; nodes 1 and 3 exist only as ids.</summary>
    internal static (IActorRef Node, TestProbe Peer) StartVoter(RaftActorTestKit kit)
    {
        var (node, peer) = StartVoterRecovering(kit);
        kit.AwaitCondition(() =>
        {
            peer.Send(node, GetRaftStatus.Instance);
            return !peer.ExpectMsg<RaftStatus>().Recovering;
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));
        return (node, peer);
    }

    /// <summary><see cref="StartVoter(RaftActorTestKit)"/> without waiting for its recovery; its election timer is not
    /// shortened after the start, so it stays quiet for 19 ticks of 100 ms.</summary>
    private static (IActorRef Node, TestProbe Peer) StartVoterRecovering(RaftActorTestKit kit)
    {
        var peer = kit.CreateTestProbe();
        var settings = new RaftActorSettings
        {
            Raft = new RaftConfig { NodeId = 2, Voters = new ulong[] { 1, 2, 3 } },
            StateMachineFactory = () => new RecordingStateMachine(),
            TickInterval = TimeSpan.FromMilliseconds(100),
            RandomFactory = () => new FixedRaftRandom(19),
            SoleVoterCampaignsAtStart = false,
        };
        return (kit.Sys.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings, new Dictionary<ulong, IActorRef> { [1] = peer.Ref })), peer);
    }

    [Fact]
    public void Recovery_APeerAsksForAPreVoteMeanwhile_AnsweredOnceRecovered()
    {
        var journal = UseGatedJournal();
        journal.HoldRecovery();
        var (node, peer) = StartVoterRecovering(this);
        AwaitCondition(() =>
        {
            peer.Send(node, GetRaftStatus.Instance);
            return peer.ExpectMsg<RaftStatus>().Recovering;
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5));

        // A peer that restarted first campaigns while this node still replays its journal (a cluster restart).
        peer.Send(node, new RequestVote(1, 2, Term: 1, LastLogIndex: 0, LastLogTerm: 0, PreVote: true, LeadershipTransfer: false));
        journal.ReleaseRecovery();

        // Held, not dropped: answered in this round rather than after the candidate's next election timeout.
        var answer = peer.ExpectMsg<RequestVoteResult>(TimeSpan.FromSeconds(10));
        Assert.Equal((true, true, 1L), (answer.PreVote, answer.Granted, answer.Term));
    }

    [Fact]
    public void Vote_JournalWriteHeld_VoteSentOnlyAfterWriteCompletes()
    {
        var journal = UseGatedJournal();
        var (node, peer) = StartVoter();
        journal.Hold();

        peer.Send(node, new RequestVote(1, 2, Term: 1, LastLogIndex: 0, LastLogTerm: 0, PreVote: false, LeadershipTransfer: false));
        AwaitCondition(() => journal.PendingWrites == 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5), "the vote's hard state was not written");

        // Raft Figure 2 / etcd msgsAfterAppend: the grant promises a durable vote, so nothing may leave before the write.
        peer.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        journal.Release();
        var vote = peer.ExpectMsg<RequestVoteResult>();
        Assert.True(vote.Granted);
        Assert.Equal(1L, vote.Term);
    }

    [Fact]
    public void Heartbeat_WhileAnAppendIsBeingWritten_IsAnsweredAtOnce_TheAppendOnlyOnceDurable()
    {
        var journal = UseGatedJournal();
        var (node, peer) = StartVoter();
        journal.Hold();

        // Leader 1 (term 1) appends an entry: the follower acknowledges it only once it is durable (Raft Figure 2).
        peer.Send(node, new AppendEntries(1, 2, Term: 1, PrevLogIndex: 0, PrevLogTerm: 0, [new Entry(1, 1, EntryType.Normal, new byte[] { 1 })], LeaderCommit: 0));
        AwaitCondition(() => journal.PendingWrites == 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5), "the entry was not written");

        // A heartbeat meanwhile is answered at once: its answer promises nothing about the log, and a follower that
        // stays silent through a long write (a received snapshot) would make a leader with no other live follower
        // step down by CheckQuorum.
        peer.Send(node, new Heartbeat(1, 2, Term: 1, Commit: 0, ReadRound: 7));
        var answer = peer.ExpectMsg<HeartbeatResult>();
        Assert.Equal((1L, 7UL), (answer.Term, answer.ReadRound));
        peer.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        journal.Release();
        var appended = peer.ExpectMsg<AppendEntriesResult>();
        Assert.True(appended.Success);
        Assert.Equal(1L, appended.Index);
    }

    [Fact]
    public void Restart_AfterVote_RecoversTermAndVoteAndRefusesSecondCandidate()
    {
        var journal = UseGatedJournal();
        var (node, peer) = StartVoter();
        peer.Send(node, new RequestVote(1, 2, Term: 5, LastLogIndex: 0, LastLogTerm: 0, PreVote: false, LeadershipTransfer: false));
        Assert.True(peer.ExpectMsg<RequestVoteResult>().Granted);
        Watch(node);
        Sys.Stop(node);
        ExpectTerminated(node);

        var (restarted, peer2) = StartVoter();
        peer2.Send(restarted, GetRaftStatus.Instance);
        var status = peer2.ExpectMsg<RaftStatus>();
        Assert.Equal((5L, 1UL), (status.Term, status.Vote));

        // Raft §5.2: at most one vote per term, also across a crash. Node 3 asks in the same term via the probe's ref.
        peer2.Send(restarted, new RequestVote(1, 2, Term: 5, LastLogIndex: 0, LastLogTerm: 0, PreVote: false, LeadershipTransfer: false));
        Assert.True(peer2.ExpectMsg<RequestVoteResult>().Granted); // the same candidate again: still granted
        var other = CreateTestProbe();
        restarted.Tell(new SetPeers(new Dictionary<ulong, IActorRef> { [3] = other.Ref }), TestActor);
        other.Send(restarted, new RequestVote(3, 2, Term: 5, LastLogIndex: 9, LastLogTerm: 4, PreVote: false, LeadershipTransfer: false));
        Assert.False(other.ExpectMsg<RequestVoteResult>().Granted);
    }

    [Fact]
    public void Restart_ClusterNodeWithInMemoryJournal_RecoversLogAndReappliesCommittedCommands()
    {
        var cluster = new RaftActorCluster(this, 3);
        RestartRecoversLog(cluster);
    }

    [Fact]
    public void Restart_AfterAnIdleTick_RestoresTheCommitIndexWithoutTheLeader()
    {
        var cluster = new RaftActorCluster(this, 3);
        var (_, follower, before) = CommitThreeOnAFollower(cluster);

        // Two ticks without a synced write: the first that follows one writes the deferred commit index alone.
        var journalId = cluster.Settings(follower).EffectivePersistenceId;
        cluster.Tick(2);
        AwaitAssert(() => Assert.Equal(before.Commit, StoredCommit(cluster, journalId)));
        cluster.Stop(follower);
        cluster.Start(follower);

        Assert.Equal(before.Commit, cluster.Status(follower).Commit);
        AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
    }

    /// <summary>The commit index of the last hard state in the journal.</summary>
    private long StoredCommit(RaftActorCluster cluster, string persistenceId) => ReadJournal(this, persistenceId).HardState.Commit;

    private (ulong Leader, ulong Follower, RaftStatus Status) CommitThreeOnAFollower(RaftActorCluster cluster) => CommitThreeOnAFollower(this, cluster);

    private void RestartRecoversLog(RaftActorCluster cluster) => RestartRecoversLog(this, cluster);

    /// <summary>Commits a, b, c and waits until a follower applied them; returns the leader, the follower and its status.</summary>
    internal static (ulong Leader, ulong Follower, RaftStatus Status) CommitThreeOnAFollower(RaftActorTestKit kit, RaftActorCluster cluster)
    {
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        foreach (var command in new[] { "a", "b", "c" })
        {
            cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command(command), kit.TestActor);
            kit.ExpectMsg<ProposeApplied>();
        }

        cluster.Tick(2);
        var follower = cluster.Ids.First(id => id != leader.NodeId);
        kit.AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
        return (leader.NodeId, follower, cluster.Status(follower));
    }

    /// <summary>Restarts a follower that applied a, b, c: it recovers term, vote and log, and keeps replicating.</summary>
    internal static void RestartRecoversLog(RaftActorTestKit kit, RaftActorCluster cluster)
    {
        var (leader, follower, before) = CommitThreeOnAFollower(kit, cluster);

        cluster.Stop(follower);
        cluster.Start(follower);

        // Recovery alone (no tick, no leader contact) restores term, vote and log. The commit index is volatile state
        // in Raft (Figure 2): a batch that only moved it was not synced, so what recovery restores may lag, never lead.
        var after = cluster.Status(follower);
        Assert.Equal((before.Term, before.Vote, before.LastIndex), (after.Term, after.Vote, after.LastIndex));
        Assert.InRange(after.Commit, 0, before.Commit);

        // The leader's next heartbeat re-establishes the commit index, and every command is re-applied.
        cluster.Tick(2);
        kit.AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
        Assert.Equal(before.Commit, cluster.Status(follower).Commit);

        // The restarted follower keeps replicating: a new command reaches its fresh state machine exactly once.
        cluster.Nodes[leader].Tell(RaftActorCluster.Command("d"), kit.TestActor);
        kit.ExpectMsg<ProposeApplied>();
        cluster.Tick(2);
        kit.AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c", "d" }, cluster.Machines[follower].Commands));
    }
}
