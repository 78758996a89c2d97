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
    [Fact]
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
