using KvCluster.Actors;
using KvCluster.Actors.Cluster;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.FailureInjection;
using Xunit;

namespace KvCluster.Tests.Cluster;

/// <summary>Reachability, auto-downing, subscription snapshots and refused joins over loopback sockets.</summary>
[Trait("Category", "Integration")]
public sealed class ClusterReachabilityTests
{
    [Fact]
    public async Task Reachability_LinkBlackholedThenHealed_UnreachableThenReachable()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "two members Up");
        var injector = RemoteExtension.Get(seed.System).FailureInjector;

        injector.Blackhole(b.Address, ThrottleDirection.Both);
        await ClusterTestNode.AwaitAsync(() => seed.HasEvent<UnreachableMember>(e => e.Member.Address == b.Address), "seed sees b unreachable");
        injector.HealAll();

        await ClusterTestNode.AwaitAsync(() => seed.HasEvent<ReachableMember>(e => e.Member.Address == b.Address), "seed sees b reachable again");
        await ClusterTestNode.AwaitAsync(() => seed.Cluster.State.Unreachable.IsEmpty && b.Cluster.State.Unreachable.IsEmpty, "nobody unreachable");
        Assert.Equal(2, seed.UpCount);
    }

    [Fact]
    public async Task LeaderActions_MemberUnreachable_JoiningNodeMovesUpOnlyAfterItIsReachableAgain()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "two members Up");
        var injector = RemoteExtension.Get(seed.System).FailureInjector;
        injector.Blackhole(b.Address, ThrottleDirection.Both);
        await ClusterTestNode.AwaitAsync(() => seed.Cluster.State.Unreachable.Any(m => m.Address == b.Address), "seed sees b unreachable");

        await using var c = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => seed.Cluster.State.Members.Any(m => m.Address == c.Address), "c admitted as Joining while b is unreachable");
        injector.HealAll();

        await ClusterTestNode.AwaitAsync(() => seed.HasEvent<MemberUp>(e => e.Member.Address == c.Address), "c Up after healing", null, seed);
        var events = seed.Events.ToList();
        var reachableAt = events.FindIndex(e => e is ReachableMember r && r.Member.Address == b.Address);
        var upAt = events.FindIndex(e => e is MemberUp u && u.Member.Address == c.Address);
        Assert.True(reachableAt >= 0 && reachableAt < upAt, $"MemberUp(c) at {upAt} must follow ReachableMember(b) at {reachableAt}: {string.Join("; ", events)}");
    }

    [Fact]
    public async Task Rejoin_NodeRestartedOnSameAddress_OldIncarnationRemovedNewOneUp()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        var b = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "two members Up");
        var old = b.Cluster.SelfUniqueAddress;
        await b.CrashAsync();

        await using var restarted = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed.Address.ToString()), port: old.Address.Port);

        Assert.Equal(old.Address, restarted.Address);
        await ClusterTestNode.AwaitAsync(() => seed.HasEvent<MemberRemoved>(e => e.Member.UniqueAddress == old), "the old incarnation removed", null, seed);
        await ClusterTestNode.AwaitAsync(() => seed.Cluster.State.Members.Any(m => m.UniqueAddress == restarted.Cluster.SelfUniqueAddress && m.Status == MemberStatus.Up), "the new incarnation Up", null, seed);
        Assert.DoesNotContain(seed.Cluster.State.Members, m => m.UniqueAddress == old);
    }

    [Fact]
    public async Task BadInput_MalformedClusterMessages_DroppedAndDaemonKeepsItsState()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 1, "the seed formed its cluster");
        var garbage = new KvCluster.Actors.Cluster.Protocol.UniqueAddressProto { Address = "not-an-address", Uid = 1 };
        var badGossip = new KvCluster.Actors.Cluster.Protocol.GossipProto();
        badGossip.Members.Add(new KvCluster.Actors.Cluster.Protocol.MemberProto { Node = garbage, Status = 99 });

        seed.Cluster.Daemon.Tell(new KvCluster.Actors.Cluster.Protocol.GossipEnvelope { From = garbage, Gossip = badGossip });
        seed.Cluster.Daemon.Tell(new KvCluster.Actors.Cluster.Protocol.Join { Node = garbage });
        seed.Cluster.Daemon.Tell(new KvCluster.Actors.Cluster.Protocol.ClusterHeartbeat());
        seed.Cluster.Daemon.Tell(new KvCluster.Actors.Cluster.Protocol.GossipEnvelope { From = KvCluster.Actors.Cluster.Gossip.ToProto(seed.Cluster.SelfUniqueAddress) });

        // A restarted daemon would have lost its membership and could not take this join.
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "b joins the running cluster", null, seed);
        Assert.False(seed.Cluster.IsTerminated);
    }

    [Fact]
    public async Task AutoDown_Enabled_CrashedNodeIsDownedAndRemovedWithoutOperator()
    {
        static ClusterSettings AutoDown(ClusterSettings s) => s with { AutoDownUnreachableAfter = TimeSpan.FromMilliseconds(500) };
        await using var seed = await ClusterTestNode.StartFirstSeedAsync(AutoDown);
        var b = await ClusterTestNode.StartJoiningAsync(seed, AutoDown);
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 2 && b.UpCount == 2, "two members Up");
        var crashed = b.Address;

        await b.CrashAsync();

        await ClusterTestNode.AwaitAsync(() => seed.HasEvent<MemberRemoved>(e => e.Member.Address == crashed && e.PreviousStatus == MemberStatus.Down), "the crashed node auto-downed and removed", null, seed);
        Assert.True(seed.HasEvent<UnreachableMember>(e => e.Member.Address == crashed));
        Assert.Single(seed.Cluster.State.Members);
    }

    [Fact]
    public async Task Subscribe_AfterClusterFormed_FirstMessageIsSnapshotWithMembers()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await using var b = await ClusterTestNode.StartJoiningAsync(seed);
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 2, "two members Up");
        var events = new System.Collections.Concurrent.ConcurrentQueue<object>();
        var late = seed.System.ActorOf(Props.Create(() => new ClusterEventRecorder(events)), "late");

        seed.Cluster.Subscribe(late, typeof(IMemberEvent));

        await ClusterTestNode.AwaitAsync(() => !events.IsEmpty, "the snapshot");
        var snapshot = Assert.IsType<CurrentClusterState>(events.First());
        Assert.Equal(2, snapshot.Members.Length);
        Assert.Equal(new[] { seed, b }.Select(n => n.Cluster.SelfUniqueAddress).Min()!.Address, snapshot.Leader);
    }

    [Fact]
    public async Task Join_NodeOfAnotherClusterName_HandshakeRefusedAndNeverAMember()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 1, "the seed formed its cluster");
        await using var stranger = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed.Address.ToString()), clusterName: "other-cluster");

        await ClusterTestNode.AwaitAsync(
            () => RemoteExtension.Get(seed.System).Counters.HandshakesRejected + RemoteExtension.Get(stranger.System).Counters.HandshakesRejected >= 1,
            "the handshake refused");

        Assert.Null(stranger.Cluster.SelfMember);
        Assert.Single(seed.Cluster.State.Members);
    }

    [Fact]
    public async Task Join_NodeWithAnotherSystemName_RefusedBySeedAndNeverAMember()
    {
        await using var seed = await ClusterTestNode.StartFirstSeedAsync();
        await ClusterTestNode.AwaitAsync(() => seed.UpCount == 1, "the seed formed its cluster");
        await using var stranger = await ClusterTestNode.StartAsync(_ => ClusterTestNode.FastSettings(seed.Address.ToString()), system: "othersystem");

        await ClusterTestNode.AwaitAsync(() => seed.Cluster.RefusedJoins >= 1, "the seed refused the join");

        Assert.Null(stranger.Cluster.SelfMember);
        Assert.Single(seed.Cluster.State.Members);
    }
}
