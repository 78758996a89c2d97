using System.Collections.Immutable;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.Cluster;

/// <summary>Every event the cluster publishes to subscribers.</summary>
public interface IClusterDomainEvent
{
}

/// <summary>A change of a member's status.</summary>
public interface IMemberEvent : IClusterDomainEvent
{
    /// <summary>The member, with its new status.</summary>
    Member Member { get; }
}

/// <summary>A change of a member's reachability as seen by the cluster's gossip.</summary>
public interface IReachabilityEvent : IClusterDomainEvent
{
    /// <summary>The member concerned.</summary>
    Member Member { get; }
}

/// <summary>A member was admitted and is Joining.</summary>
/// <param name="Member">The member.</param>
public sealed record MemberJoined(Member Member) : IMemberEvent;

/// <summary>A member was moved Up by the leader.</summary>
/// <param name="Member">The member.</param>
public sealed record MemberUp(Member Member) : IMemberEvent;

/// <summary>A member asked to leave (status Leaving).</summary>
/// <param name="Member">The member.</param>
public sealed record MemberLeft(Member Member) : IMemberEvent;

/// <summary>A leaving member was moved to Exiting by the leader.</summary>
/// <param name="Member">The member.</param>
public sealed record MemberExited(Member Member) : IMemberEvent;

/// <summary>A member was marked Down.</summary>
/// <param name="Member">The member.</param>
public sealed record MemberDowned(Member Member) : IMemberEvent;

/// <summary>A member was removed from the cluster. A node receives this event about itself too,
/// just before its cluster shuts down.</summary>
/// <param name="Member">The member, with status Removed.</param>
/// <param name="PreviousStatus">Its status before removal (Exiting after a graceful leave, Down otherwise).</param>
public sealed record MemberRemoved(Member Member, MemberStatus PreviousStatus) : IMemberEvent;

/// <summary>Some member's failure detector judges this member unreachable.</summary>
/// <param name="Member">The member.</param>
public sealed record UnreachableMember(Member Member) : IReachabilityEvent;

/// <summary>A member that was unreachable is reachable again from every observer.</summary>
/// <param name="Member">The member.</param>
public sealed record ReachableMember(Member Member) : IReachabilityEvent;

/// <summary>The cluster leader changed (null: no leader, for example while every other member is unreachable).</summary>
/// <param name="Leader">The new leader's address, or null.</param>
public sealed record LeaderChanged(RemoteAddress? Leader) : IClusterDomainEvent;

/// <summary>
/// A snapshot of the membership: sent to a new subscriber before any event, and available any
/// time as <see cref="Cluster.State"/>.
/// </summary>
/// <param name="Members">The members that are not Removed, in address order.</param>
/// <param name="Unreachable">Members judged unreachable by some observer.</param>
/// <param name="Leader">The leader's address, or null.</param>
/// <param name="SeenBy">Addresses of the members that have seen the current gossip.</param>
public sealed record CurrentClusterState(
    ImmutableArray<Member> Members,
    ImmutableArray<Member> Unreachable,
    RemoteAddress? Leader,
    ImmutableArray<RemoteAddress> SeenBy) : IClusterDomainEvent
{
    /// <summary>The state of a node that has not joined a cluster.</summary>
    public static readonly CurrentClusterState Empty = new([], [], null, []);

    /// <summary>Formats the members with their statuses, the unreachable ones and the leader.</summary>
    public override string ToString() =>
        $"CurrentClusterState(members=[{string.Join(", ", Members.Select(m => $"{m.Address}:{m.Status}#{m.UpNumber}"))}], unreachable=[{string.Join(", ", Unreachable.Select(m => m.Address))}], leader={Leader?.ToString() ?? "none"}, seenBy={SeenBy.Length})";
}
