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
    public async Task ALearnerWhosePromotionALeaderChangeCutShort_IsPromotedByTheNextLeaderOnceItRuns()
    {
        await using var cluster = await KvTestCluster.StartAsync(pbm: true);
        var leader = await cluster.AwaitLeaderAsync();

        // Node 4 enters the configuration as a learner to be promoted while it does not run yet, so its catch-up
        // cannot end; then leadership moves, which ends the old leader's attempt (thesis §4.2.1 leaves it a learner).
        var adding = cluster.Nodes[leader]!.Raft.Ask<object>(new AddMember(4), TimeSpan.FromSeconds(60));
        for (var attempt = 0; attempt < 50 && await Task.WhenAny(adding, Task.Delay(TimeSpan.FromSeconds(2))) == adding; attempt++)
        {
            // Refused at once until the leader committed an entry of its term: asked again. Accepted, it stays
            // unanswered while the learner cannot catch up. A leader change this early (the specs' 20 ms ticks on a
            // loaded machine: CI 3f2b5a7) answers NotLeader: asked again at the new leader.
            var refusal = Assert.IsType<MembershipChangeFailed>(await adding).Failure;
            Assert.True(refusal is MembershipChangeFailure.Unavailable or MembershipChangeFailure.NotLeader, $"AddMember refused with {refusal}");
            await Task.Delay(100);
            if (refusal == MembershipChangeFailure.NotLeader)
            {
                leader = await cluster.AwaitLeaderAsync();
                var now = await cluster.Nodes[leader]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
                if (now.Learners.Contains(4UL))
                {
                    break; // the old leader had proposed it before it lost leadership: the learner is there
                }
            }

            adding = cluster.Nodes[leader]!.Raft.Ask<object>(new AddMember(4), TimeSpan.FromSeconds(60));
        }

        var members = await AwaitMembersAsync(cluster, leader, m => m.Learners.Contains(4UL) && m.Committed);
        Assert.Equal(new ulong[] { 4 }, members.Promoting);
        var target = Enumerable.Range(0, 3).First(i => i != leader);
        var newLeader = leader;
        for (var attempt = 0; attempt < 5 && newLeader == leader; attempt++)
        {
            await cluster.Nodes[leader]!.Raft.Ask<object>(new TransferLeadership((ulong)target + 1), KvTestCluster.Wait);
            newLeader = await AwaitLeaderOtherThanAsync(cluster, leader);
        }

        Assert.NotEqual(leader, newLeader);
        var failed = Assert.IsType<MembershipChangeFailed>(await adding);
        Assert.Equal(MembershipChangeFailure.NotLeader, failed.Failure);
        members = await cluster.Nodes[newLeader]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
        Assert.Contains(4UL, members.Learners);
        Assert.Contains(4UL, members.Promoting!);

        // Node 4 starts and joins: the new leader finishes the promotion the log asks for.
        var joiner = await cluster.StartJoinerAsync();
        members = await AwaitMembersAsync(cluster, newLeader, m => m.Voters.Count == 4 && m.Committed);
        Assert.Contains(4UL, members.Voters);
        Assert.Empty(members.Learners);
        Assert.Empty(members.Promoting!);
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

    /// <summary>A refusal an operator retries: leadership moved, or a new leader has not committed an entry of its term.</summary>
    private static bool IsTransient(string body) =>
        body.Contains("not the leader", StringComparison.Ordinal) || body.Contains("retry shortly", StringComparison.Ordinal);

    [Fact]
    public async Task MemberRemovedByAnOperatorWhileUp_IsNotAddedBackByTheFollower_NorByTheNextLeader()
    {
        await using var cluster = await KvTestCluster.StartAsync(pbm: true);
        var leader = await cluster.AwaitLeaderAsync();
        var removed = Enumerable.Range(0, 3).First(i => i != leader);
        await AwaitAllUpAsync(cluster, leader);
        await Task.Delay(TimeSpan.FromSeconds(2)); // a few follower rounds: every node has seen the configuration

        var response = await cluster.Nodes[leader]!.Commands!.ExecuteAsync($"raft remove-member {removed + 1}");
        var removedMeanwhile = false;
        for (var attempt = 0; attempt < 5 && response.Status != CommandStatus.Ok && IsTransient(response.Body); attempt++)
        {
            if (response.Body.Contains("retry shortly", StringComparison.Ordinal))
            {
                // A leader just elected refuses membership changes until it committed an entry of its term (CI bfc5936).
                await Task.Delay(200);
            }

            // Leadership moved around the command (an election on a loaded machine). The answer may come after the
            // removal was proposed, and the removal may still commit (CI cc49949: the removed node pre-campaigned alone
            // from then on). So the operator reads the configuration on the new leader first, and removes a member
            // that is not the leader only while all three are voters.
            leader = await AwaitLeaderOfAMajorityAsync(cluster);
            var current = await cluster.Nodes[leader]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
            if (current.Voters.Count == 2)
            {
                removed = Enumerable.Range(0, 3).First(i => !current.Voters.Contains((ulong)i + 1));
                removedMeanwhile = true;
                break;
            }

            removed = Enumerable.Range(0, 3).First(i => i != leader);
            response = await cluster.Nodes[leader]!.Commands!.ExecuteAsync($"raft remove-member {removed + 1}");
        }

        Assert.True(removedMeanwhile || response.Status == CommandStatus.Ok, response.Body);
        await Task.Delay(TimeSpan.FromSeconds(4)); // four rounds of the leader's follower
        var members = await cluster.Nodes[leader]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
        Assert.DoesNotContain((ulong)(removed + 1), members.Voters.Concat(members.Learners));

        // Leadership moves to the third node, whose follower never added or removed anything: it learned of the
        // removal from the configuration it watched, and does not add the member back either.
        var third = Enumerable.Range(0, 3).First(i => i != leader && i != removed);
        var voters = new[] { leader, third };
        for (var attempt = 0; attempt < 5 && await LeaderAmongAsync(cluster, voters) != third; attempt++)
        {
            await cluster.Nodes[leader]!.Raft.Ask<object>(new TransferLeadership((ulong)third + 1), KvTestCluster.Wait);
            for (var wait = 0; wait < 50 && await LeaderAmongAsync(cluster, voters) != third; wait++)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(third, await LeaderAmongAsync(cluster, voters));
        await Task.Delay(TimeSpan.FromSeconds(4)); // four rounds of the new leader's follower

        // The two voters may hold an election meanwhile on a loaded machine (CI 2553d06: the third knew no leader at
        // this point). Whoever leads the two once they agree again, neither configuration has the member back.
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (await LeaderAmongAsync(cluster, voters) < 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the two voters did not agree on a leader again");
            await Task.Delay(50);
        }

        foreach (var voter in voters)
        {
            members = await cluster.Nodes[voter]!.Raft.Ask<Members>(GetMembers.Instance, KvTestCluster.Wait);
            Assert.DoesNotContain((ulong)(removed + 1), members.Voters.Concat(members.Learners));
        }
    }

    /// <summary>Waits until a leader is followed by two of the three nodes (a removed third may never hear of it); returns it.</summary>
    private static async Task<int> AwaitLeaderOfAMajorityAsync(KvTestCluster cluster)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (true)
        {
            var statuses = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => cluster.Nodes[i]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait)));
            foreach (var leader in statuses.Where(s => s.Role == KvCluster.Raft.Core.RaftRole.Leader))
            {
                if (statuses.Count(s => s.Leader == leader.NodeId && s.Term == leader.Term) >= 2)
                {
                    return (int)leader.NodeId - 1;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, "no leader of a majority: " + string.Join("; ", statuses.Select(s => $"{s.NodeId}:{s.Role}/t{s.Term}")));
            await Task.Delay(50);
        }
    }

    /// <summary>The index of the node that leads with the agreement of all of <paramref name="nodes"/>, or -1.</summary>
    private static async Task<int> LeaderAmongAsync(KvTestCluster cluster, IReadOnlyList<int> nodes)
    {
        var statuses = await Task.WhenAll(nodes.Select(i => cluster.Nodes[i]!.Raft.Ask<RaftStatus>(GetRaftStatus.Instance, KvTestCluster.Wait)));
        var leaders = statuses.Where(s => s.Role == KvCluster.Raft.Core.RaftRole.Leader).ToArray();
        return leaders.Length == 1 && statuses.All(s => s.Leader == leaders[0].NodeId && s.Term == leaders[0].Term) ? (int)leaders[0].NodeId - 1 : -1;
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

    /// <summary>The index of the leader all running nodes agree on, once it is not <paramref name="old"/> (or the deadline).</summary>
    private static async Task<int> AwaitLeaderOtherThanAsync(KvTestCluster cluster, int old)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var leader = await cluster.AwaitLeaderAsync();
            if (leader != old || DateTime.UtcNow >= deadline)
            {
                return leader;
            }

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
