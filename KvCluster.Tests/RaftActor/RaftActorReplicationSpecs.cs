using System.Text;
using Akka.Actor;
using Akka.TestKit;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

/// <summary>Proposals, reads and partitions through RaftActors on virtual time.</summary>
public sealed class RaftActorReplicationSpecs : RaftActorTestKit
{
    [Fact]
    public void Propose_ManyCommandsToLeader_EachAppliedExactlyOnceInOrderOnEveryNode()
    {
        var cluster = new RaftActorCluster(this, 3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        var commands = Enumerable.Range(1, 50).Select(i => $"cmd-{i}").ToArray();

        foreach (var command in commands)
        {
            cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command(command), TestActor);
        }

        var replies = ReceiveN(commands.Length).Cast<ProposeApplied>().ToArray();
        cluster.Tick(2); // heartbeats carry the commit index to followers

        Assert.Equal(commands.Select(c => $"ok:{c}"), replies.Select(r => RaftActorCluster.Text(r.Result).Split('@')[0]));
        Assert.True(replies.Zip(replies.Skip(1)).All(p => p.Item1.Index < p.Item2.Index), "replies must come in index order");
        AwaitAssert(() => Assert.All(cluster.Ids, id => Assert.Equal(commands, cluster.Machines[id].Commands)));
    }

    [Fact]
    public void Propose_ToFollower_RepliesNotLeaderWithLeaderHint()
    {
        var cluster = new RaftActorCluster(this, 3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        var follower = cluster.Ids.First(id => id != leader.NodeId);

        cluster.Nodes[follower].Tell(RaftActorCluster.Command("x"), TestActor);

        var reply = ExpectMsg<NotLeader>();
        Assert.Equal(leader.NodeId, reply.LeaderHint);
    }

    [Fact]
    public void Propose_LeaderInMinorityPartition_NeverCommitsAndIsDroppedAfterHeal()
    {
        var cluster = new RaftActorCluster(this, 3);
        var old = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        var oldCommit = cluster.Status(old.NodeId).Commit;
        cluster.Network.Tell(new Partition(new HashSet<ulong> { old.NodeId }));
        var minority = CreateTestProbe("minority");

        minority.Send(cluster.Nodes[old.NodeId], RaftActorCluster.Command("lost"));
        cluster.Tick(RaftActorCluster.MinTimeout - 1, new[] { old.NodeId });

        // Raft §5.3/§5.4: an entry is committed only once a majority stores it; one node of three is not a majority.
        Assert.False(minority.HasMessages);
        Assert.Equal(oldCommit, cluster.Status(old.NodeId).Commit);
        Assert.Empty(cluster.Machines[old.NodeId].Commands);

        var rest = cluster.Ids.Where(id => id != old.NodeId).ToArray();
        var leader = cluster.TickUntilLeader(3 * RaftActorCluster.MaxTimeout, rest);
        cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command("kept"), TestActor);
        ExpectMsg<ProposeApplied>();
        cluster.Network.Tell(new Heal());
        cluster.Tick(5);

        var dropped = minority.ExpectMsg<ProposeDropped>();
        Assert.Contains("replaced by a new leader's entry", dropped.Reason);
        AwaitAssert(() => Assert.All(cluster.Ids, id => Assert.Equal(new[] { "kept" }, cluster.Machines[id].Commands)));
    }

    [Fact]
    public void ReadIndex_AfterCommittedWrite_AnswersFromStateContainingTheWrite()
    {
        var cluster = new RaftActorCluster(this, 3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command("a"), TestActor);
        var applied = ExpectMsg<ProposeApplied>();

        cluster.Nodes[leader.NodeId].Tell(new ReadIndex(Encoding.UTF8.GetBytes("all")), TestActor);
        cluster.Tick(1); // the read round's heartbeats (thesis §6.4) are answered

        var read = ExpectMsg<ReadIndexReply>();
        Assert.True(read.Index >= applied.Index, $"read index {read.Index} must cover the write at {applied.Index}");
        Assert.Equal("a", RaftActorCluster.Text(read.Result));
    }

    [Fact]
    public void ReadIndex_OnFollower_ForwardsToLeaderAndAnswersAfterApplying()
    {
        var cluster = new RaftActorCluster(this, 3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command("a"), TestActor);
        ExpectMsg<ProposeApplied>();
        var follower = cluster.Ids.First(id => id != leader.NodeId);

        cluster.Nodes[follower].Tell(new ReadIndex(Encoding.UTF8.GetBytes("all")), TestActor);
        cluster.Tick(2);

        var read = ExpectMsg<ReadIndexReply>();
        Assert.Equal("a", RaftActorCluster.Text(read.Result));
    }

    [Fact]
    public void Status_OnLeaderAfterWrites_ReportsRoleTermCommitAndFollowerMatch()
    {
        var cluster = new RaftActorCluster(this, 3);
        var leader = cluster.TickUntilLeader(RaftActorCluster.MaxTimeout + 5);
        cluster.Nodes[leader.NodeId].Tell(RaftActorCluster.Command("a"), TestActor);
        var applied = ExpectMsg<ProposeApplied>();
        cluster.Tick(1);

        AwaitAssert(() =>
        {
            var status = cluster.Status(leader.NodeId);
            Assert.Equal((RaftRole.Leader, leader.Term, leader.NodeId), (status.Role, status.Term, status.Leader));
            Assert.Equal(applied.Index, status.Commit);
            Assert.Equal(applied.Index, status.Applied);
            Assert.Equal(applied.Index, status.LastIndex);
            Assert.All(cluster.Ids, id => Assert.Equal(applied.Index, status.Match[id]));
        });
    }
}
