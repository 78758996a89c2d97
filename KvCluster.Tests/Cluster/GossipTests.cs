using System.Collections.Immutable;
using KvCluster.Actors.Cluster;
using KvCluster.Actors.Remote.Transport;
using Xunit;

namespace KvCluster.Tests.Cluster;

public sealed class GossipTests
{
    private static readonly UniqueAddress A = Node(2551, 1);
    private static readonly UniqueAddress B = Node(2552, 2);
    private static readonly UniqueAddress C = Node(2553, 3);

    [Fact]
    public void Merge_ConflictingStatuses_LaterStatusWinsInBothOrders()
    {
        var left = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2));
        var right = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2).With(MemberStatus.Leaving)).WithMember(Joining(C));

        var lr = left.Merge(right);
        var rl = right.Merge(left);

        Assert.True(lr.SameContent(rl));
        Assert.Equal(MemberStatus.Leaving, lr.Get(B)!.Status);
        Assert.Equal(MemberStatus.Joining, lr.Get(C)!.Status);
        Assert.Empty(lr.Seen);
    }

    [Fact]
    public void Merge_RemovedTombstone_OldGossipCannotResurrectMember()
    {
        var current = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2).With(MemberStatus.Removed));
        var stale = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2));

        var merged = current.Merge(stale);

        Assert.Equal(MemberStatus.Removed, merged.Get(B)!.Status);
        Assert.DoesNotContain(merged.LiveMembers, m => m.UniqueAddress == B);
    }

    [Fact]
    public void Merge_UpNumbers_SmallestNonZeroWins()
    {
        var left = Gossip.Empty.WithMember(Joining(A));
        var right = Gossip.Empty.WithMember(Up(A, 4));

        Assert.Equal(4, left.Merge(right).Get(A)!.UpNumber);
        Assert.Equal(3, Gossip.Empty.WithMember(Up(A, 3)).Merge(right).Get(A)!.UpNumber);
    }

    [Fact]
    public void Merge_ReachabilityRecords_HigherObserverVersionWins()
    {
        var members = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2));
        var older = members.WithReachability(new ObserverRecord(A, 1, [B]));
        var newer = members.WithReachability(new ObserverRecord(A, 2, []));

        Assert.False(older.Merge(newer).IsUnreachable(B));
        Assert.False(newer.Merge(older).IsUnreachable(B));
        Assert.True(older.Merge(members).IsUnreachable(B));
    }

    [Fact]
    public void HasConverged_MemberHasNotSeenState_False()
    {
        var gossip = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Joining(B)).SeenOnlyBy(A);

        Assert.False(gossip.HasConverged());
        Assert.True(gossip.WithSeen([B]).HasConverged());
    }

    [Fact]
    public void HasConverged_UnreachableUpMember_FalseEvenIfAllReachableSawIt()
    {
        // Akka's rule: no leader actions while a member is unreachable, unless it is Down or Exiting.
        var gossip = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2)).WithMember(Joining(C))
            .WithReachability(new ObserverRecord(A, 1, [B]))
            .WithSeen([A, C]);

        Assert.False(gossip.HasConverged());
    }

    [Fact]
    public void HasConverged_UnreachableMemberIsDown_True()
    {
        var gossip = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2).With(MemberStatus.Down))
            .WithReachability(new ObserverRecord(A, 1, [B]))
            .WithSeen([A]);

        Assert.True(gossip.HasConverged());
    }

    [Fact]
    public void Leader_FirstReachableUpMemberByAddress_SkipsUnreachableAndJoining()
    {
        var gossip = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Up(B, 2)).WithMember(Joining(Node(2550, 9)));

        Assert.Equal(A, gossip.Leader()!.UniqueAddress);
        Assert.Equal(B, gossip.WithReachability(new ObserverRecord(B, 1, [A])).Leader()!.UniqueAddress);
    }

    [Fact]
    public void Leader_OnlyJoiningMembers_FirstJoiningLeadsSoItCanMoveUp()
    {
        var gossip = Gossip.Empty.WithMember(Joining(B)).WithMember(Joining(A));

        Assert.Equal(A, gossip.Leader()!.UniqueAddress);
    }

    [Fact]
    public void Leader_ExitingMember_IsNotLeader()
    {
        var gossip = Gossip.Empty.WithMember(Up(A, 1).With(MemberStatus.Exiting)).WithMember(Up(B, 2));

        Assert.Equal(B, gossip.Leader()!.UniqueAddress);
    }

    [Fact]
    public void Leader_OnlyExitingMemberLeft_ItLeadsSoItCanRemoveItself()
    {
        var gossip = Gossip.Empty.WithMember(Up(A, 1).With(MemberStatus.Exiting)).WithMember(Up(B, 2).With(MemberStatus.Down));

        Assert.Equal(A, gossip.Leader()!.UniqueAddress);
    }

    [Fact]
    public void Proto_RoundTrip_KeepsContentAndSeen()
    {
        var gossip = Gossip.Empty.WithMember(Up(A, 1)).WithMember(Joining(B) with { Roles = ["kv", "lighthouse"] })
            .WithReachability(new ObserverRecord(A, 3, [B]))
            .WithSeen([A, B]);

        var decoded = Gossip.FromProto(gossip.ToProto());

        Assert.True(decoded.SameContent(gossip));
        Assert.True(decoded.Seen.SetEquals(gossip.Seen));
        Assert.True(decoded.Get(B)!.HasRole("lighthouse"));
        Assert.True(decoded.IsUnreachable(B));
    }

    [Fact]
    public void FromProto_UnknownStatus_FormatExceptionNamesIt()
    {
        var proto = Gossip.Empty.WithMember(Up(A, 1)).ToProto();
        proto.Members[0].Status = 42;

        var error = Assert.Throws<FormatException>(() => Gossip.FromProto(proto));

        Assert.Contains("42", error.Message);
    }

    [Fact]
    public void UniqueAddress_Order_HostThenPortThenUid()
    {
        var sorted = new[] { Node(2552, 1), Node(2551, 9), Node(2551, 2) }.Order().ToArray();

        Assert.Equal([Node(2551, 2), Node(2551, 9), Node(2552, 1)], sorted);
    }

    private static UniqueAddress Node(int port, ulong uid) => new(new RemoteAddress("kv", "127.0.0.1", port), uid);

    private static Member Joining(UniqueAddress node) => new(node, MemberStatus.Joining, ImmutableSortedSet.Create("kv"), 0);

    private static Member Up(UniqueAddress node, int upNumber) => new(node, MemberStatus.Up, ImmutableSortedSet.Create("kv"), upNumber);
}
