using Akka.Actor;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>AddMember / RemoveMember / GetMembers through RaftActors on virtual time (Raft thesis chapter 4).</summary>
public sealed class RaftActorMembershipSpecs : RaftActorTestKit
{
    /// <summary>A three-node cluster with a leader and two applied commands.</summary>
    private (RaftActorCluster Cluster, ulong Leader) StartWithLeader(Func<RaftActorSettings, RaftActorSettings>? configureActor = null) =>
        StartWithLeader(this, configureActor);

    /// <summary>A three-node cluster in <paramref name="kit"/> with a leader and two applied commands.</summary>
    internal static (RaftActorCluster Cluster, ulong Leader) StartWithLeader(RaftActorTestKit kit, Func<RaftActorSettings, RaftActorSettings>? configureActor = null)
    {
        var cluster = new RaftActorCluster(kit, 3, configureActor: configureActor);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;
        foreach (var command in new[] { "a", "b" })
        {
            cluster.Nodes[leader].Tell(RaftActorCluster.Command(command), kit.TestActor);
            kit.ExpectMsg<ProposeApplied>();
        }

        return (cluster, leader);
    }

    private Members MembersOf(RaftActorCluster cluster, ulong id) => MembersOf(this, cluster, id);

    /// <summary>
    /// Ticks until the test actor holds an answer (at most 100 ticks). A fixed number of ticks would not do: the
    /// catch-up deadline counts from the commit of the AddLearner entry, and how many ticks pass before that commit
    /// depends on how the replication messages interleave with the ticks on a loaded machine.
    /// </summary>
    private void TickUntilAnswered(RaftActorCluster cluster)
    {
        for (var i = 0; i < 100 && !HasMessages; i++)
        {
            cluster.Tick(1);
        }
    }

    private static Members MembersOf(RaftActorTestKit kit, RaftActorCluster cluster, ulong id)
    {
        var probe = kit.CreateTestProbe();
        probe.Send(cluster.Nodes[id], GetMembers.Instance);
        return probe.ExpectMsg<Members>();
    }

    [Fact]
    public void AddMember_JoinerBecomesReachable_AddedAsLearnerThenPromotedToVoter()
    {
        var (cluster, leader) = StartWithLeader();
        cluster.AddJoiner(4, reachable: false);
        var requester = CreateTestProbe();

        requester.Send(cluster.Nodes[leader], new AddMember(4));

        // The learner is in the configuration but cannot catch up while unreachable (thesis §4.2.1).
        AwaitAssert(() =>
        {
            var members = MembersOf(cluster, leader);
            Assert.Equal(new ulong[] { 1, 2, 3 }, members.Voters);
            Assert.Equal(new ulong[] { 4 }, members.Learners);
            Assert.True(members.Committed);
        });
        cluster.Tick(3);
        Assert.False(requester.HasMessages);

        cluster.ConnectAll();
        cluster.Tick(3);

        var changed = requester.ExpectMsg<MembershipChanged>();
        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, changed.Voters);
        Assert.Empty(changed.Learners);
        AwaitAssert(() => Assert.Equal(new[] { "a", "b" }, cluster.Machines[4].Commands));
        cluster.Tick(2);
        AwaitAssert(() => Assert.Equal(new ulong[] { 1, 2, 3, 4 }, cluster.Status(4).Voters));
        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, cluster.Status(leader).Voters);
    }

    [Fact]
    public void AddMember_LearnerInItsCatchUp_IsListedAsPromotingByEveryNode()
    {
        var (cluster, leader) = StartWithLeader();
        cluster.AddJoiner(4, reachable: false);

        cluster.Nodes[leader].Tell(new AddMember(4), CreateTestProbe());

        // The AddLearner entry says the learner is to be promoted: any node that leads next can finish the change.
        var follower = cluster.Ids.First(id => id != leader);
        AwaitAssert(() =>
        {
            cluster.Tick(1);
            foreach (var id in new[] { leader, follower })
            {
                var members = MembersOf(cluster, id);
                Assert.Equal(new ulong[] { 4 }, members.Learners);
                Assert.Equal(new ulong[] { 4 }, members.Promoting);
            }
        });
    }

    [Fact]
    public void AddMember_StayLearner_IsALearnerThatIsNotPromoting()
    {
        var (cluster, leader) = StartWithLeader();
        cluster.AddJoiner(4, reachable: false);

        cluster.Nodes[leader].Tell(new AddMember(4, StayLearner: true), TestActor);
        cluster.Tick(2);

        Assert.Equal(new ulong[] { 4 }, ExpectMsg<MembershipChanged>().Learners);
        var members = MembersOf(cluster, leader);
        Assert.Equal(new ulong[] { 4 }, members.Learners);
        Assert.Empty(members.Promoting!);
    }

    [Fact]
    public void AddMember_NewVoter_CountsForQuorumAfterPromotion()
    {
        var (cluster, leader) = StartWithLeader();
        cluster.AddJoiner(4);
        cluster.Nodes[leader].Tell(new AddMember(4), TestActor);
        cluster.Tick(2);
        ExpectMsg<MembershipChanged>();

        // Voters {1, 2, 3, 4}: the leader plus one other node is no longer a majority.
        var others = cluster.Ids.Where(id => id != leader).ToArray();
        cluster.Network.Tell(new Partition(new HashSet<ulong> { leader, others[0] }), TestActor);
        var client = CreateTestProbe();
        client.Send(cluster.Nodes[leader], RaftActorCluster.Command("needs three of four"));
        cluster.Tick(3, new[] { leader, others[0] });

        Assert.False(client.HasMessages);
        Assert.True(cluster.Status(leader).Commit < cluster.Status(leader).LastIndex);
        Assert.DoesNotContain("needs three of four", cluster.Machines[leader].Commands);
        // Raft thesis §4.2.1: once promoted, the new server counts in every majority
    }

    [Fact]
    public void AddMember_LearnerNeverCatchesUp_FailsCatchUpTimedOutAndStaysLearner()
    {
        var (cluster, leader) = StartWithLeader(configureActor: s => s with { CatchUpTimeout = TimeSpan.FromSeconds(2) });
        cluster.AddJoiner(4, reachable: false);

        cluster.Nodes[leader].Tell(new AddMember(4), TestActor);
        TickUntilAnswered(cluster);

        var failed = ExpectMsg<MembershipChangeFailed>();
        Assert.Equal((4UL, MembershipChangeFailure.CatchUpTimedOut), (failed.NodeId, failed.Failure));
        Assert.Contains("stays a learner", failed.Reason);
        var members = MembersOf(cluster, leader);
        Assert.Equal(new ulong[] { 4 }, members.Learners);
        Assert.Equal(new ulong[] { 1, 2, 3 }, members.Voters);
    }

    [Fact]
    public void AddMember_AfterTimeout_ResumesCatchUpAndPromotes()
    {
        var (cluster, leader) = StartWithLeader(configureActor: s => s with { CatchUpTimeout = TimeSpan.FromSeconds(2) });
        cluster.AddJoiner(4, reachable: false);
        cluster.Nodes[leader].Tell(new AddMember(4), TestActor);
        TickUntilAnswered(cluster);
        ExpectMsg<MembershipChangeFailed>();

        cluster.ConnectAll();
        cluster.Nodes[leader].Tell(new AddMember(4), TestActor);
        cluster.Tick(3);

        Assert.Equal(new ulong[] { 1, 2, 3, 4 }, ExpectMsg<MembershipChanged>().Voters);
    }

    [Fact]
    public void AddMember_ToFollower_FailsNotLeaderWithHint()
    {
        var (cluster, leader) = StartWithLeader();
        var follower = cluster.Ids.First(id => id != leader);

        cluster.Nodes[follower].Tell(new AddMember(4), TestActor);

        var failed = ExpectMsg<MembershipChangeFailed>();
        Assert.Equal((MembershipChangeFailure.NotLeader, leader), (failed.Failure, failed.LeaderHint));
    }

    [Fact]
    public void AddMember_WhileAnotherChangeInProgress_FailsChangeInProgress()
    {
        var (cluster, leader) = StartWithLeader();
        cluster.AddJoiner(4, reachable: false);
        cluster.Nodes[leader].Tell(new AddMember(4), TestActor);
        AwaitAssert(() => Assert.Equal(new ulong[] { 4 }, MembersOf(cluster, leader).Learners));
        var second = CreateTestProbe();

        second.Send(cluster.Nodes[leader], new RemoveMember(2));

        var failed = second.ExpectMsg<MembershipChangeFailed>();
        Assert.Equal(MembershipChangeFailure.ChangeInProgress, failed.Failure);
        Assert.Contains("adding node 4", failed.Reason);
        // Raft thesis §4.1: one single-server change at a time
    }

    [Fact]
    public void AddMember_ExistingVoter_RepliesCurrentConfigurationAtOnce()
    {
        var (cluster, leader) = StartWithLeader();

        cluster.Nodes[leader].Tell(new AddMember(2), TestActor);

        var changed = ExpectMsg<MembershipChanged>();
        Assert.Equal(new ulong[] { 1, 2, 3 }, changed.Voters);
    }

    [Fact]
    public void RemoveMember_Follower_RemovedFromEveryRemainingNodesConfiguration()
    {
        var (cluster, leader) = StartWithLeader();
        var removed = cluster.Ids.First(id => id != leader);

        cluster.Nodes[leader].Tell(new RemoveMember(removed), TestActor);

        var changed = ExpectMsg<MembershipChanged>();
        var remaining = cluster.Ids.Where(id => id != removed).ToArray();
        Assert.Equal(remaining, changed.Voters.Order());
        cluster.Tick(2);
        AwaitAssert(() => Assert.All(remaining, id => Assert.Equal(remaining, MembersOf(cluster, id).Voters.Order())));
    }

    [Fact]
    public void RemoveMember_Leader_RepliesThenStepsDownAndRemainingNodesElectLeader()
    {
        var (cluster, leader) = StartWithLeader();

        cluster.Nodes[leader].Tell(new RemoveMember(leader), TestActor);

        var changed = ExpectMsg<MembershipChanged>();
        var remaining = cluster.Ids.Where(id => id != leader).ToArray();
        Assert.Equal(remaining, changed.Voters.Order());
        var next = cluster.TickUntilLeader(3 * RaftActorCluster.MaxTimeout, remaining);
        Assert.NotEqual(RaftRole.Leader, cluster.Status(leader).Role);
        cluster.Nodes[next.NodeId].Tell(RaftActorCluster.Command("after"), TestActor);
        ExpectMsg<ProposeApplied>();
        // Raft thesis §4.2.2: the removed leader steps down once C_new is committed
    }

    [Fact]
    public void RemoveMember_LastVoter_FailsRejected()
    {
        var cluster = new RaftActorCluster(this, 1);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5).NodeId;
        cluster.Nodes[leader].Tell(RaftActorCluster.Command("a"), TestActor);
        ExpectMsg<ProposeApplied>();

        cluster.Nodes[leader].Tell(new RemoveMember(leader), TestActor);

        Assert.Equal(MembershipChangeFailure.Rejected, ExpectMsg<MembershipChangeFailed>().Failure);
    }

    [Fact]
    public void Restart_AfterAddMemberWithInMemoryJournal_RecoversConfiguration()
    {
        var (cluster, leader) = StartWithLeader();
        RestartRecoversConfiguration(cluster, leader);
    }

    private void RestartRecoversConfiguration(RaftActorCluster cluster, ulong leader) => RestartRecoversConfiguration(this, cluster, leader);

    /// <summary>Adds node 4, then restarts a follower and node 4: each recovers the configuration from its journal.</summary>
    internal static void RestartRecoversConfiguration(RaftActorTestKit kit, RaftActorCluster cluster, ulong leader)
    {
        cluster.AddJoiner(4);
        cluster.Nodes[leader].Tell(new AddMember(4), kit.TestActor);
        cluster.Tick(2);
        var changed = kit.ExpectMsg<MembershipChanged>();
        cluster.Tick(2);
        var follower = cluster.Ids.First(id => id != leader);
        kit.AwaitAssert(() => Assert.True(MembersOf(kit, cluster, follower).Committed && MembersOf(kit, cluster, 4).Voters.Contains(4UL)));

        foreach (var id in new[] { follower, 4UL })
        {
            cluster.Stop(id);
            cluster.Start(id);

            // Recovery alone (no leader contact) restores the configuration from the journal.
            var members = MembersOf(kit, cluster, id);
            Assert.Equal(changed.Index, members.Index);
            Assert.Equal(new ulong[] { 1, 2, 3, 4 }, members.Voters);
            Assert.Equal(new ulong[] { 1, 2, 3, 4 }, cluster.Status(id).Voters);
        }
    }
}
