using Google.Protobuf;

namespace KvCluster.Node.Kv;

/// <summary>
/// One lease of the replicated lease table: its id, its granted TTL and the keys attached to it now (a live key whose
/// newest version names the lease). The keys are derived state: the versions carry the lease, this set indexes them.
/// </summary>
internal sealed class LeaseRecord
{
    /// <summary>Creates a lease with no key attached.</summary>
    public LeaseRecord(long id, long ttl)
    {
        Id = id;
        Ttl = ttl;
    }

    /// <summary>The lease id (never 0).</summary>
    public long Id { get; }

    /// <summary>The granted TTL in seconds (already raised to the cluster's minimum by the node that proposed the grant).</summary>
    public long Ttl { get; }

    /// <summary>The live keys attached, in key order (so a revoke deletes them in the same order on every replica).</summary>
    public SortedSet<ByteString> Keys { get; } = new(LeaseKeyComparer.Instance);
}

/// <summary>Orders keys as unsigned bytes, as the store does.</summary>
internal sealed class LeaseKeyComparer : IComparer<ByteString>
{
    /// <summary>The one instance.</summary>
    public static readonly LeaseKeyComparer Instance = new();

    /// <inheritdoc />
    public int Compare(ByteString? x, ByteString? y) => KvKeyOrder.Compare(x!.Span, y!.Span);
}

/// <summary>A change of the lease table, told to the node's lessor as it is applied (never part of the replicated state).</summary>
/// <param name="Kind">What changed.</param>
/// <param name="Id">The lease (0 for <see cref="LeaseChangeKind.Reset"/>).</param>
/// <param name="Ttl">The granted TTL in seconds (grants only).</param>
/// <param name="Index">The log index at which the change was applied.</param>
public sealed record LeaseChange(LeaseChangeKind Kind, long Id, long Ttl, long Index) : Akka.Actor.INoSerializationVerificationNeeded;

/// <summary>The kinds of <see cref="LeaseChange"/>.</summary>
public enum LeaseChangeKind
{
    /// <summary>A lease was granted.</summary>
    Granted,

    /// <summary>A lease was revoked (by a client or on expiry); its keys were deleted.</summary>
    Revoked,

    /// <summary>The whole table was replaced (a snapshot was restored): the lessor must read it again.</summary>
    Reset,
}
