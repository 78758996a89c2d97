using Akka.Actor;
using Akka.Remote;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>Elections driven by the RaftActor's tick timer on virtual time, across a simulated network.</summary>
public sealed class RaftActorElectionSpecs : RaftActorTestKit
{
    [Fact]
    public void Election_FreshCluster_NoCandidateBeforeMinimumTimeoutThenLeaderWithinRange()
    {
        var cluster = new RaftActorCluster(this, 3);

        // No node may leave Follower before its election timeout, which is at least ElectionTimeoutMinTicks (Raft §5.2).
        for (var tick = 1; tick < RaftActorCluster.MinTimeout; tick++)
        {
            cluster.Tick();
            Assert.All(cluster.Statuses(), s => Assert.Equal((RaftRole.Follower, 0L), (s.Role, s.Term)));
        }

        // Node 1's timeout (10 ticks) elapses: it pre-votes, campaigns and wins without any further tick.
        cluster.Tick();
        var leader = cluster.AwaitStableLeader(cluster.Ids, TimeSpan.FromSeconds(10));

        Assert.NotNull(leader);
        Assert.Equal(1UL, leader.NodeId);
        Assert.Equal(1L, leader.Term);
    }

    [Fact]
    public void Election_ASoleVoterStarts_LeadsWithoutWaitingForATimeout()
    {
        var cluster = new RaftActorCluster(this, 1, configureActor: s => s with { SoleVoterCampaignsAtStart = true });

        // No tick at all: its own vote is a majority, so waiting out a timeout would only delay a one-node store.
        var leader = cluster.AwaitStableLeader(cluster.Ids, TimeSpan.FromSeconds(10));

        Assert.NotNull(leader);
        Assert.Equal((1UL, 1L), (leader.NodeId, leader.Term));
    }

    [Fact]
    public void Election_PeersReportedConnectedAfterRecovery_FirstTimeoutIsAdvancedByMinimumMinusTwoTicks()
    {
        var cluster = new RaftActorCluster(this, 3);

        // Every peer of the harness is reached through the simulated network's ref: one association covers them all.
        ReportAssociation(cluster.Network.Path.Address);
        cluster.Statuses(); // every node has handled the event

        // Node 1's timeout is 10 ticks; advanced by 10 - 2, it pre-votes on the second tick instead of the tenth.
        cluster.Tick();
        Assert.All(cluster.Statuses(), s => Assert.Equal((RaftRole.Follower, 0L), (s.Role, s.Term)));
        cluster.Tick();
        var leader = cluster.AwaitStableLeader(cluster.Ids, TimeSpan.FromSeconds(10));

        Assert.NotNull(leader);
        Assert.Equal((1UL, 1L), (leader.NodeId, leader.Term));
    }

    [Fact]
    public void Election_AfterAWholeClusterRestart_TheNodeThatLedCampaignsOnTheFirstTickOnceItsPeersAreReportedListening()
    {
        var cluster = new RaftActorCluster(this, 3);
        cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);

        // Node 3 (the longest timeout here, 18 ticks) leads before the restart; it voted for itself in that term.
        // The transfer completes by messages alone (no tick); until it has, node 1 is still a stable leader, so wait
        // for node 3 rather than for any stable leader (CI on 377c6e9 read node 1 before the transfer ended).
        cluster.Nodes[1].Tell(new TransferLeadership(3));
        RaftStatus? before = null;
        AwaitCondition(() => (before = cluster.AwaitStableLeader(cluster.Ids, TimeSpan.FromSeconds(1)))?.NodeId == 3, TimeSpan.FromSeconds(10));
        foreach (var id in cluster.Ids)
        {
            cluster.Stop(id);
        }

        foreach (var id in cluster.Ids)
        {
            cluster.Start(id);
        }

        // The node host reports the peers' systems in the cluster before Akka.Remote associates them.
        ReportListening(cluster, cluster.Network.Path.Address);

        cluster.Statuses();

        // The others keep two ticks at least (node 1's 10 advanced by 8); node 3 stood last, so it goes on the first.
        cluster.Tick();
        var leader = cluster.AwaitStableLeader(cluster.Ids, TimeSpan.FromSeconds(10));

        Assert.NotNull(leader);
        Assert.Equal((3UL, before!.Term + 1), (leader.NodeId, leader.Term));
    }

    [Fact]
    public void Election_PeersReportedListeningByTheNodeHost_AdvanceTheFirstTimeoutAsAnAssociationDoes()
    {
        var cluster = new RaftActorCluster(this, 3);

        ReportListening(cluster, cluster.Network.Path.Address);

        cluster.Statuses();
        cluster.Tick(2);
        var leader = cluster.AwaitStableLeader(cluster.Ids, TimeSpan.FromSeconds(10));

        // Node 1's timeout is 10 ticks; advanced by 8, it leads after the second (no node has stood in a term yet).
        Assert.NotNull(leader);
        Assert.Equal((1UL, 1L), (leader.NodeId, leader.Term));
    }

    [Fact]
    public void Election_ANodeReportedListeningThatIsNoPeer_AdvancesNothing()
    {
        var cluster = new RaftActorCluster(this, 3);

        ReportListening(cluster, new Address("akka.tcp", "elsewhere", "127.0.0.1", 1));

        cluster.Tick(RaftActorCluster.MinTimeout - 1);

        Assert.All(cluster.Statuses(), s => Assert.Equal((RaftRole.Follower, 0L), (s.Role, s.Term)));
    }

    [Fact]
    public void Election_AssociationWithAnAddressThatIsNoPeer_AdvancesNothing()
    {
        var cluster = new RaftActorCluster(this, 3);

        ReportAssociation(new Address("akka.tcp", "elsewhere", "127.0.0.1", 1));
        cluster.Tick(RaftActorCluster.MinTimeout - 1);

        Assert.All(cluster.Statuses(), s => Assert.Equal((RaftRole.Follower, 0L), (s.Role, s.Term)));
    }

    [Fact]
    public void Election_PeersReportedConnectedOnceALeaderIsKnown_NoElectionFollows()
    {
        var cluster = new RaftActorCluster(this, 3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);

        ReportAssociation(cluster.Network.Path.Address);
        cluster.Tick(3);

        Assert.All(cluster.Statuses(), s => Assert.Equal((leader.NodeId, leader.Term), (s.Leader, s.Term)));
    }

    [Fact]
    public void Election_AdvanceTurnedOff_PeersReportedConnected_NodesWaitTheirWholeTimeout()
    {
        var cluster = new RaftActorCluster(this, 3, configureActor: s => s with { AdvanceFirstElectionOncePeersConnect = false });

        ReportAssociation(cluster.Network.Path.Address);
        cluster.Tick(RaftActorCluster.MinTimeout - 1);

        Assert.All(cluster.Statuses(), s => Assert.Equal((RaftRole.Follower, 0L), (s.Role, s.Term)));
    }

    /// <summary>What the node host's membership follower tells every node when the system at <paramref name="remote"/> joined the cluster.</summary>
    private static void ReportListening(RaftActorCluster cluster, Address remote)
    {
        foreach (var id in cluster.Ids)
        {
            cluster.Nodes[id].Tell(new PeerListening(remote));
        }
    }

    /// <summary>What Akka.Remote publishes when a connection to <paramref name="remote"/> is established.</summary>
    private void ReportAssociation(Address remote) =>
        Sys.EventStream.Publish(new AssociatedEvent(((ExtendedActorSystem)Sys).Provider.DefaultAddress, remote, inbound: true));

    [Fact]
    public void Election_LeaderIsolated_RemainingMajorityElectsNewLeaderInHigherTerm()
    {
        var cluster = new RaftActorCluster(this, 3);
        var first = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);

        cluster.Network.Tell(new Partition(new HashSet<ulong> { first.NodeId }));
        var rest = cluster.Ids.Where(id => id != first.NodeId).ToArray();
        var second = cluster.TickUntilLeader(3 * RaftActorCluster.MaxTimeout, rest);

        Assert.NotEqual(first.NodeId, second.NodeId);
        Assert.True(second.Term > first.Term, $"new leader's term {second.Term} must exceed {first.Term}");
    }

    [Fact]
    public void Election_LeaderIsolatedWithCheckQuorum_OldLeaderStepsDownByItself()
    {
        var cluster = new RaftActorCluster(this, 3);
        var first = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);

        cluster.Network.Tell(new Partition(new HashSet<ulong> { first.NodeId }));
        cluster.Tick(RaftActorCluster.MaxTimeout + 2);

        // Thesis §6.2: a leader that has not heard from a majority within an election timeout steps down.
        Assert.NotEqual(RaftRole.Leader, cluster.Status(first.NodeId).Role);
    }

    [Fact]
    public void Election_StaleLeaderSeesHigherTerm_StepsDownToFollowerOfNewLeader()
    {
        var cluster = new RaftActorCluster(this, 3, c => c with { CheckQuorum = false });
        var first = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        cluster.Network.Tell(new Partition(new HashSet<ulong> { first.NodeId }));
        var rest = cluster.Ids.Where(id => id != first.NodeId).ToArray();
        var second = cluster.TickUntilLeader(3 * RaftActorCluster.MaxTimeout, rest);
        var stale = cluster.Status(first.NodeId);
        Assert.Equal((RaftRole.Leader, first.Term), (stale.Role, stale.Term)); // without CheckQuorum it does not know yet

        cluster.Network.Tell(new Heal());
        cluster.Tick(3);

        // Raft §5.1: a server that sees a higher term reverts to follower and adopts that term.
        AwaitAssert(() =>
        {
            var after = cluster.Status(first.NodeId);
            Assert.Equal((RaftRole.Follower, second.Term, second.NodeId), (after.Role, after.Term, after.Leader));
        });
    }
}
