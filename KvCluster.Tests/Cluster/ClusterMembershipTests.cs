using KvCluster.Actors.Cluster;
using Xunit;

namespace KvCluster.Tests.Cluster;

/// <summary>Membership over real loopback sockets: join, gossip, leader, reachability, leave, down.</summary>
[Trait("Category", "Integration")]
public sealed class ClusterMembershipTests
{
    [Fact]
    public async Task Join_ThreeNodesThroughSeed_AllSeeThreeUpAndSameLeader()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await using var c = await ClusterTestNode.StartJoiningAsync(seed);
        var nodes = new[] { seed, b, c };

        await ClusterTestNode.AwaitAsync(() => nodes.All(n => n.UpCount == 3), "three members Up on every node");
        var expectedLeader = nodes.Select(n => n.Cluster.SelfUniqueAddress).Min()!.Address;

        await ClusterTestNode.AwaitAsync(() => nodes.All(n => n.Cluster.State.Leader == expectedLeader), "the same leader, the lowest address, on every node", null, nodes);

        Assert.All(nodes, n => Assert.True(n.HasEvent<MemberUp>(e => e.Member.Address == c.Address)));
        var state = seed.Cluster.State;
        Assert.True(state.Members.All(m => m.UpNumber > 0), state.ToString());
        Assert.True(state.Members.Min(m => m.UpNumber) == 1, $"the first member moved Up is number 1: {state}");
        Assert.All(seed.Cluster.State.Members, m => Assert.Contains("kv", m.Roles));
    }

    [Fact]
    public async Task Crash_NodeStoppedAbruptly_BecomesUnreachableThenDownRemovesIt()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        var c = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => new[] { seed, b, c }.All(n => n.UpCount == 3), "three members Up");
        var crashed = c.Address;

        await c.CrashAsync();

        await ClusterTestNode.AwaitAsync(() => new[] { seed, b }.All(n => n.HasEvent<UnreachableMember>(e => e.Member.Address == crashed)), "UnreachableMember on the survivors");
        Assert.Contains(seed.Cluster.State.Unreachable, m => m.Address == crashed);
        // Auto-down is off: the crashed node stays a member until an operator downs it.
        Assert.Contains(seed.Cluster.State.Members, m => m.Address == crashed);

        b.Cluster.Down(crashed);

        await ClusterTestNode.AwaitAsync(() => new[] { seed, b }.All(n => n.HasEvent<MemberRemoved>(e => e.Member.Address == crashed && e.PreviousStatus == MemberStatus.Down)), "MemberRemoved on the survivors");
        await ClusterTestNode.AwaitAsync(() => new[] { seed, b }.All(n => n.Cluster.State.Members.Length == 2 && n.Cluster.State.Unreachable.IsEmpty), "two members and nobody unreachable");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Leave_GracefulLeaveOfNonLeader_OthersSeeMemberRemovedAndLeaverShutsDown(bool askedByAnotherNode)
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await using var c = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => new[] { seed, b, c }.All(n => n.UpCount == 3), "three members Up");
        var leaver = new[] { b, c }.MaxBy(n => n.Cluster.SelfUniqueAddress)!;

        (askedByAnotherNode ? seed : leaver).Cluster.Leave(leaver.Address);

        await ClusterTestNode.AwaitAsync(() => leaver.Cluster.IsTerminated, "the leaver's cluster shuts down");
        var others = new[] { seed, b, c }.Where(n => n != leaver).ToArray();
        await ClusterTestNode.AwaitAsync(() => others.All(n => n.HasEvent<MemberRemoved>(e => e.Member.Address == leaver.Address && e.PreviousStatus == MemberStatus.Exiting)), "MemberRemoved(Exiting) on the others");
        Assert.All(others, n => Assert.True(n.HasEvent<MemberLeft>(e => e.Member.Address == leaver.Address)));
        Assert.True(leaver.HasEvent<MemberRemoved>(e => e.Member.Address == leaver.Address));
        await ClusterTestNode.AwaitAsync(() => others.All(n => n.UpCount == 2 && n.Cluster.State.Members.Length == 2), "two members remain Up");
    }

    [Fact]
    public async Task Leave_OnlyMemberLeaves_RemovesItselfAndShutsDown()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 1, "the seed formed its cluster");

        seed.Cluster.Leave(seed.Address);

        await ClusterTestNode.AwaitAsync(() => seed.Cluster.IsTerminated, "the cluster shuts down", null, seed);
        Assert.True(seed.HasEvent<MemberExited>(e => e.Member.Address == seed.Address));
        Assert.True(seed.HasEvent<MemberRemoved>(e => e.Member.Address == seed.Address && e.PreviousStatus == MemberStatus.Exiting));
    }

    [Fact]
    public async Task Leave_LeaderLeaves_OthersSeeLeaderChangedToNextMember()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await using var c = await ClusterTestNode.StartJoiningAsync(seed);
        var nodes = new[] { seed, b, c };
        await ClusterTestNode.AwaitAsync(() => nodes.All(n => n.UpCount == 3 && n.Cluster.State.Leader is not null), "three members Up with a leader");
        var ordered = nodes.OrderBy(n => n.Cluster.SelfUniqueAddress).ToArray();
        var leader = ordered[0];
        var next = ordered[1].Address;
        Assert.Equal(leader.Address, b.Cluster.State.Leader);

        leader.Cluster.Leave(leader.Address);

        var others = ordered.Skip(1).ToArray();
        await ClusterTestNode.AwaitAsync(() => others.All(n => n.HasEvent<LeaderChanged>(e => e.Leader == next)), "LeaderChanged to the next member on the others");
        await ClusterTestNode.AwaitAsync(() => others.All(n => n.HasEvent<MemberRemoved>(e => e.Member.Address == leader.Address)), "the old leader removed");
        await ClusterTestNode.AwaitAsync(() => leader.Cluster.IsTerminated, "the old leader's cluster shuts down");
        Assert.All(others, n => Assert.Equal(next, n.Cluster.State.Leader));
    }
}
