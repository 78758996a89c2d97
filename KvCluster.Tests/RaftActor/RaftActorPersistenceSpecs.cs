using KvCluster.Actors;
using KvCluster.Actors.Persistence;
using KvCluster.Actors.Persistence.InMemory;
using KvCluster.Actors.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using KvCluster.Tests.Persistence;
using KvCluster.Tests.Raft;

namespace KvCluster.Tests.RaftActor;

/// <summary>Durability rules of the RaftActor: persist before send, stop on a failed write, recover after restart.</summary>
public sealed class RaftActorPersistenceSpecs : TestKit
{
    public RaftActorPersistenceSpecs() : base(virtualTime: true)
    {
    }

    /// <summary>Configures the system's persistence with a gated in-memory journal (once per test).</summary>
    private GatedJournal UseGatedJournal()
    {
        var store = new InMemoryStore();
        var journal = new GatedJournal(store.OpenJournal());
        KvCluster.Actors.Persistence.Persistence.Configure(Sys, new PersistenceSettings(() => journal, store.OpenSnapshotStore) { Serializer = RaftJournalEvents.CreateSerializer() });
        return journal;
    }

    /// <summary>Node 2 of {1, 2, 3} whose peer 1 is a probe; nodes 1 and 3 exist only as ids.</summary>
    private (IActorRef Node, TestProbe Peer) StartVoter()
    {
        var peer = CreateTestProbe();
        var settings = new RaftActorSettings
        {
            Raft = new RaftConfig { NodeId = 2, Voters = new ulong[] { 1, 2, 3 } },
            StateMachineFactory = () => new RecordingStateMachine(),
            TickInterval = TimeSpan.FromMilliseconds(100),
            RandomFactory = () => new FixedRaftRandom(19),
        };
        var node = Sys.ActorOf(KvCluster.Raft.Actor.RaftActor.Props(settings, new Dictionary<ulong, IActorRef> { [1] = peer.Ref }));
        AwaitCondition(() =>
        {
            peer.Send(node, GetRaftStatus.Instance);
            return !peer.ExpectMsg<RaftStatus>().Recovering;
        });
        return (node, peer);
    }

    [Fact]
    public void Vote_JournalWriteHeld_VoteSentOnlyAfterWriteCompletes()
    {
        var journal = UseGatedJournal();
        var (node, peer) = StartVoter();
        journal.Hold();

        peer.Send(node, new RequestVote(1, 2, Term: 1, LastLogIndex: 0, LastLogTerm: 0, PreVote: false, LeadershipTransfer: false));
        AwaitCondition(() => journal.PendingWrites == 1, message: "the vote's hard state was not written");

        // Raft Figure 2 / etcd msgsAfterAppend: the grant promises a durable vote, so nothing may leave before the write.
        Assert.Equal(0, peer.QueueCount);

        journal.Release();
        var vote = peer.ExpectMsg<RequestVoteResult>();
        Assert.True(vote.Granted);
        Assert.Equal(1L, vote.Term);
    }

    [Fact]
    public void Vote_JournalWriteFails_ActorStopsWithoutSendingVote()
    {
        var journal = UseGatedJournal();
        var (node, peer) = StartVoter();
        Watch(node);
        journal.FailWith = new IOException("disk full (injected)");

        peer.Send(node, new RequestVote(1, 2, Term: 1, LastLogIndex: 0, LastLogTerm: 0, PreVote: false, LeadershipTransfer: false));

        ExpectTerminated(node);
        Assert.Equal(0, peer.QueueCount);
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
    public void Restart_ClusterNodeWithSqliteJournal_RecoversLogAndReappliesCommittedCommands()
    {
        using var dir = new TempDirectory();
        var cluster = new RaftActorCluster(this, 3, persistence: PersistenceSettings.Sqlite(dir.Path) with { Serializer = RaftJournalEvents.CreateSerializer() });

        RestartRecoversLog(cluster);

        Assert.True(File.Exists(dir.File(PersistenceSettings.JournalFileName)));
    }

    [Fact]
    public void Restart_AfterSyncHardState_RestoresTheCommitIndexWithoutTheLeader()
    {
        using var dir = new TempDirectory();
        var cluster = new RaftActorCluster(this, 3, persistence: PersistenceSettings.Sqlite(dir.Path) with { Serializer = RaftJournalEvents.CreateSerializer() });
        var (_, follower, before) = CommitThreeOnAFollower(cluster);

        cluster.Nodes[follower].Tell(SyncHardState.Instance, TestActor);
        ExpectMsg<HardStateSynced>();
        cluster.Stop(follower);
        cluster.Start(follower);

        var after = cluster.Status(follower);
        Assert.Equal((before.Term, before.Vote, before.LastIndex, before.Commit), (after.Term, after.Vote, after.LastIndex, after.Commit));
        AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
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
    private static long StoredCommit(RaftActorCluster cluster, string persistenceId)
    {
        var serializer = RaftJournalEvents.CreateSerializer();
        long commit = -1;
        cluster.Journal.ReplayMessagesAsync(persistenceId, 1, long.MaxValue, long.MaxValue, repr =>
        {
            if (serializer.Deserialize(repr.Manifest, repr.Payload) is KvCluster.Raft.Actor.Journal.HardStateChanged hs)
            {
                commit = hs.Commit;
            }
        }).GetAwaiter().GetResult();
        return commit;
    }

    /// <summary>Commits a, b, c and waits until a follower applied them; returns the leader, the follower and its status.</summary>
    private (ulong Leader, ulong Follower, RaftStatus Status) CommitThreeOnAFollower(RaftActorCluster cluster)
    {
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        foreach (var command in new[] { "a", "b", "c" })
        {
            cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command(command), TestActor);
            ExpectMsg<ProposeApplied>();
        }

        cluster.Tick(2);
        var follower = cluster.Ids.First(id => id != leader.NodeId);
        AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
        return (leader.NodeId, follower, cluster.Status(follower));
    }

    private void RestartRecoversLog(RaftActorCluster cluster)
    {
        var (leader, follower, before) = CommitThreeOnAFollower(cluster);

        cluster.Stop(follower);
        cluster.Start(follower);

        // Recovery alone (no tick, no leader contact) restores term, vote and log. The commit index is volatile state
        // in Raft (Figure 2): a batch that only moved it was not synced, so what recovery restores may lag, never lead.
        var after = cluster.Status(follower);
        Assert.Equal((before.Term, before.Vote, before.LastIndex), (after.Term, after.Vote, after.LastIndex));
        Assert.InRange(after.Commit, 0, before.Commit);

        // The leader's next heartbeat re-establishes the commit index, and every command is re-applied.
        cluster.Tick(2);
        AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c" }, cluster.Machines[follower].Commands));
        Assert.Equal(before.Commit, cluster.Status(follower).Commit);

        // The restarted follower keeps replicating: a new command reaches its fresh state machine exactly once.
        cluster.Nodes[leader].Tell(RaftActorCluster.Command("d"), TestActor);
        ExpectMsg<ProposeApplied>();
        cluster.Tick(2);
        AwaitAssert(() => Assert.Equal(new[] { "a", "b", "c", "d" }, cluster.Machines[follower].Commands));
    }
}
