using System.Collections.Immutable;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Actors.Cluster;

/// <summary>
/// One incarnation of a node: its address and the uid remoting drew when that actor system
/// started. A node that restarts on the same address is a different <see cref="UniqueAddress"/>.
/// Ordered by host, then port, then uid (the order that picks the leader).
/// </summary>
/// <param name="Address">The node's remoting address, <c>kv://system@host:port</c>.</param>
/// <param name="Uid">The incarnation uid (<see cref="RemoteTransport.Uid"/>).</param>
public sealed record UniqueAddress(RemoteAddress Address, ulong Uid) : IComparable<UniqueAddress>
{
    /// <inheritdoc />
    public int CompareTo(UniqueAddress? other)
    {
        if (other is null)
        {
            return 1;
        }

        var c = CompareAddresses(Address, other.Address);
        return c != 0 ? c : Uid.CompareTo(other.Uid);
    }

    /// <summary>Orders addresses by host (ordinal), port, then system name.</summary>
    public static int CompareAddresses(RemoteAddress a, RemoteAddress b)
    {
        var c = string.CompareOrdinal(a.Host, b.Host);
        if (c != 0)
        {
            return c;
        }

        c = a.Port.CompareTo(b.Port);
        return c != 0 ? c : string.CompareOrdinal(a.System, b.System);
    }

    /// <summary>Formats as <c>kv://system@host:port#uid</c>.</summary>
    public override string ToString() => $"{Address}#{Uid}";
}

/// <summary>
/// The life cycle of a member: Joining → Up → Leaving → Exiting → Removed, or Down (set by an
/// operator or auto-downing) → Removed. The numeric order is the merge order: when two gossips
/// disagree about a member, the later status wins.
/// </summary>
public enum MemberStatus
{
    /// <summary>Admitted to the cluster; waits for the leader to move it Up.</summary>
    Joining = 0,

    /// <summary>A full member.</summary>
    Up = 1,

    /// <summary>Asked to leave gracefully; the leader moves it to Exiting.</summary>
    Leaving = 2,

    /// <summary>Leaving, and every reachable member has seen it; the leader removes it next.</summary>
    Exiting = 3,

    /// <summary>Declared dead by an operator (<see cref="Cluster.Down"/>) or auto-downing; the
    /// leader removes it without waiting for it.</summary>
    Down = 4,

    /// <summary>No longer a member (kept in the gossip as a tombstone so it cannot come back).</summary>
    Removed = 5,
}

/// <summary>An immutable view of one cluster member.</summary>
/// <param name="UniqueAddress">The member's incarnation.</param>
/// <param name="Status">Its life-cycle status.</param>
/// <param name="Roles">Its roles (for example <c>kv</c>, <c>lighthouse</c>).</param>
/// <param name="UpNumber">Its age: 1 for the first member moved Up, then increasing; 0 before Up.
/// A lower number is an older member. Two members moved Up by different leaders at the same time
/// (possible while leadership moves) can share a number; <see cref="IsOlderThan"/> then orders by address.</param>
public sealed record Member(UniqueAddress UniqueAddress, MemberStatus Status, ImmutableSortedSet<string> Roles, int UpNumber)
{
    /// <summary>The member's address.</summary>
    public RemoteAddress Address => UniqueAddress.Address;

    /// <summary>True when the member carries <paramref name="role"/>.</summary>
    public bool HasRole(string role) => Roles.Contains(role);

    /// <summary>True when this member is older (moved Up earlier) than <paramref name="other"/>.</summary>
    public bool IsOlderThan(Member other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (UpNumber == other.UpNumber)
        {
            return UniqueAddress.CompareTo(other.UniqueAddress) < 0;
        }

        return UpNumber != 0 && (other.UpNumber == 0 || UpNumber < other.UpNumber);
    }

    /// <summary>Formats as <c>Member(address, status)</c>.</summary>
    public override string ToString() => $"Member({UniqueAddress}, {Status}, up#{UpNumber}, roles=[{string.Join(',', Roles)}])";

    internal Member With(MemberStatus status, int upNumber = -1) => this with { Status = status, UpNumber = upNumber < 0 ? UpNumber : upNumber };
}
