using System.Collections.Immutable;
using KvCluster.Actors.Cluster.Protocol;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.Cluster;

/// <summary>
/// The membership state that members gossip: a join-semilattice, so any two states merge
/// deterministically and all members converge on the same state.
/// </summary>
/// <remarks>
/// <para>Members merge per incarnation by the later <see cref="MemberStatus"/> (statuses only move
/// forward); the up-number merges by the smallest non-zero value. Removed members stay as
/// tombstones so an old gossip cannot bring them back.</para>
/// <para>Reachability is one record per observer (what it currently judges unreachable) with a
/// version only that observer increments; the higher version wins.</para>
/// <para><see cref="Seen"/> holds the members known to have seen exactly this content; it is
/// not part of the content (<see cref="SameContent"/>). Convergence: every reachable member that
/// is not Down or Removed has seen the state and no member is unreachable unless it is Down or
/// Exiting (as in Akka).</para>
/// </remarks>
internal sealed class Gossip
{
    public static readonly Gossip Empty = new(
        ImmutableSortedDictionary<UniqueAddress, Member>.Empty,
        ImmutableSortedDictionary<UniqueAddress, ObserverRecord>.Empty,
        ImmutableSortedSet<UniqueAddress>.Empty);

    public Gossip(
        ImmutableSortedDictionary<UniqueAddress, Member> members,
        ImmutableSortedDictionary<UniqueAddress, ObserverRecord> reachability,
        ImmutableSortedSet<UniqueAddress> seen)
    {
        Members = members;
        Reachability = reachability;
        Seen = seen;
    }

    /// <summary>Every known incarnation, tombstones included, in address order.</summary>
    public ImmutableSortedDictionary<UniqueAddress, Member> Members { get; }

    /// <summary>Observer → what it judges unreachable.</summary>
    public ImmutableSortedDictionary<UniqueAddress, ObserverRecord> Reachability { get; }

    /// <summary>Members that have seen this content.</summary>
    public ImmutableSortedSet<UniqueAddress> Seen { get; }

    /// <summary>Members that are not Removed.</summary>
    public IEnumerable<Member> LiveMembers => Members.Values.Where(m => m.Status != MemberStatus.Removed);

    public Gossip WithMember(Member member) => new(Members.SetItem(member.UniqueAddress, member), Reachability, ImmutableSortedSet<UniqueAddress>.Empty);

    public Gossip WithReachability(ObserverRecord record) => new(Members, Reachability.SetItem(record.Observer, record), ImmutableSortedSet<UniqueAddress>.Empty);

    public Gossip SeenOnlyBy(UniqueAddress node) => new(Members, Reachability, [node]);

    public Gossip WithSeen(IEnumerable<UniqueAddress> seen) => new(Members, Reachability, Seen.Union(seen));

    public Member? Get(UniqueAddress node) => Members.GetValueOrDefault(node);

    /// <summary>True when some observer that is itself a live, non-Down member judges <paramref name="node"/> unreachable.</summary>
    public bool IsUnreachable(UniqueAddress node)
    {
        foreach (var record in Reachability.Values)
        {
            if (record.Unreachable.Contains(node) && Members.TryGetValue(record.Observer, out var observer) && observer.Status is not (MemberStatus.Down or MemberStatus.Removed))
            {
                return true;
            }
        }

        return false;
    }

    public IEnumerable<Member> UnreachableMembers => LiveMembers.Where(m => IsUnreachable(m.UniqueAddress));

    /// <summary>True when the state has converged (see the type's remarks).</summary>
    public bool HasConverged()
    {
        foreach (var member in LiveMembers)
        {
            var unreachable = IsUnreachable(member.UniqueAddress);
            if (unreachable && member.Status is not (MemberStatus.Down or MemberStatus.Exiting))
            {
                return false;
            }

            if (!unreachable && member.Status != MemberStatus.Down && !Seen.Contains(member.UniqueAddress))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The first reachable Up or Leaving member in address order; when there is none,
    /// the first reachable member that is not Down (so a new cluster can move its first member Up,
    /// and the last member of a cluster can remove itself after leaving), as in Akka.</summary>
    public Member? Leader()
    {
        Member? fallback = null;
        foreach (var member in LiveMembers)
        {
            if (IsUnreachable(member.UniqueAddress))
            {
                continue;
            }

            if (member.Status is MemberStatus.Up or MemberStatus.Leaving)
            {
                return member;
            }

            if (fallback is null && member.Status != MemberStatus.Down)
            {
                fallback = member;
            }
        }

        return fallback;
    }

    /// <summary>True when both states hold the same members and reachability (ignoring <see cref="Seen"/>).</summary>
    public bool SameContent(Gossip other)
    {
        if (Members.Count != other.Members.Count || Reachability.Count != other.Reachability.Count)
        {
            return false;
        }

        foreach (var (node, member) in Members)
        {
            if (!other.Members.TryGetValue(node, out var theirs) || theirs.Status != member.Status || theirs.UpNumber != member.UpNumber || !theirs.Roles.SetEquals(member.Roles))
            {
                return false;
            }
        }

        foreach (var (observer, record) in Reachability)
        {
            if (!other.Reachability.TryGetValue(observer, out var theirs) || theirs.Version != record.Version)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The least upper bound of both contents; <see cref="Seen"/> is empty.</summary>
    public Gossip Merge(Gossip other)
    {
        var members = Members.ToBuilder();
        foreach (var (node, theirs) in other.Members)
        {
            members[node] = members.TryGetValue(node, out var mine) ? MergeMember(mine, theirs) : theirs;
        }

        var reachability = Reachability.ToBuilder();
        foreach (var (observer, theirs) in other.Reachability)
        {
            if (!reachability.TryGetValue(observer, out var mine) || theirs.Version > mine.Version)
            {
                reachability[observer] = theirs;
            }
        }

        return new Gossip(members.ToImmutable(), reachability.ToImmutable(), ImmutableSortedSet<UniqueAddress>.Empty);
    }

    private static Member MergeMember(Member a, Member b)
    {
        var status = a.Status >= b.Status ? a.Status : b.Status;
        var up = a.UpNumber == 0 ? b.UpNumber : b.UpNumber == 0 ? a.UpNumber : Math.Min(a.UpNumber, b.UpNumber);
        return a with { Status = status, UpNumber = up, Roles = a.Roles.Union(b.Roles) };
    }

    public GossipProto ToProto()
    {
        var proto = new GossipProto();
        foreach (var member in Members.Values)
        {
            var m = new MemberProto { Node = ToProto(member.UniqueAddress), Status = (int)member.Status, UpNumber = member.UpNumber };
            m.Roles.AddRange(member.Roles);
            proto.Members.Add(m);
        }

        foreach (var record in Reachability.Values)
        {
            var r = new ObserverRecordProto { Observer = ToProto(record.Observer), Version = record.Version };
            r.Unreachable.AddRange(record.Unreachable.Select(ToProto));
            proto.Reachability.Add(r);
        }

        proto.Seen.AddRange(Seen.Select(ToProto));
        return proto;
    }

    /// <summary>Decodes a gossip from the wire.</summary>
    /// <exception cref="FormatException">An address, status or field is invalid.</exception>
    public static Gossip FromProto(GossipProto proto)
    {
        var members = ImmutableSortedDictionary.CreateBuilder<UniqueAddress, Member>();
        foreach (var m in proto.Members)
        {
            if (m.Status is < (int)MemberStatus.Joining or > (int)MemberStatus.Removed)
            {
                throw new FormatException($"Gossip carries member status {m.Status}, which is not a MemberStatus.");
            }

            var node = FromProto(m.Node);
            members[node] = new Member(node, (MemberStatus)m.Status, [.. m.Roles], m.UpNumber);
        }

        var reachability = ImmutableSortedDictionary.CreateBuilder<UniqueAddress, ObserverRecord>();
        foreach (var r in proto.Reachability)
        {
            var observer = FromProto(r.Observer);
            reachability[observer] = new ObserverRecord(observer, r.Version, [.. r.Unreachable.Select(FromProto)]);
        }

        return new Gossip(members.ToImmutable(), reachability.ToImmutable(), [.. proto.Seen.Select(FromProto)]);
    }

    public static UniqueAddressProto ToProto(UniqueAddress node) => new() { Address = node.Address.ToString(), Uid = node.Uid };

    /// <exception cref="FormatException">The address is missing or malformed.</exception>
    public static UniqueAddress FromProto(UniqueAddressProto? proto)
    {
        if (proto is null)
        {
            throw new FormatException("A cluster message lacks a node address.");
        }

        return new UniqueAddress(RemoteAddress.Parse(proto.Address), proto.Uid);
    }

    public override string ToString() =>
        $"Gossip(members=[{string.Join(", ", LiveMembers.Select(m => $"{m.Address}:{m.Status}"))}], unreachable=[{string.Join(", ", UnreachableMembers.Select(m => m.Address))}], seen={Seen.Count})";
}

/// <summary>What <paramref name="Observer"/> judges unreachable, at its own <paramref name="Version"/>.</summary>
internal sealed record ObserverRecord(UniqueAddress Observer, long Version, ImmutableSortedSet<UniqueAddress> Unreachable);
